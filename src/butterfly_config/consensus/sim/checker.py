"""Safety invariants, checked on every apply and every vote an honest replica emits.

The checker trusts nothing the replicas computed: it re-verifies commit
certificates with its own key ring, re-hashes documents and re-runs the
validation callback. It sees only honest replicas' outputs (what they applied
and what they signed), because the invariants speak about honest members.

Invariants:
- agreement: no two honest replicas apply different entries at one revision;
- integrity: every applied entry carries a valid commit certificate (q distinct
  member COMMIT votes, or n PREPARE_OK votes on the fast path, all over this
  entry's digest), its document was proposed by a client and passes validation;
- chain: each replica applies revisions 1, 2, 3... in order, each entry's parent
  digest being the digest of the entry applied before it;
- single vote: no honest replica signs two digests for one (ballot, revision)
  and vote kind, across restarts too (the record outlives the replica);
- no false evidence: no honest replica finds critical evidence against an
  honest member (reputation penalties would isolate it);
- valid reports: every VIEW_CHANGE report an honest replica sends can justify
  the ballot it names (an invalid one is dropped unseen, and the view change
  waits for others).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.crypto import KeyRing
from butterfly_config.consensus.messages import (
    CommitCertificate,
    CommitVote,
    Decided,
    Entry,
    HashFn,
    PrepareOk,
    SignedMessage,
    ViewChange,
    entry_is_consistent,
    message_type_name,
)
from butterfly_config.consensus.params import ConsensusParams
from butterfly_config.consensus.selection import report_problem
from butterfly_config.consensus.state import EvidenceFound

Validator = Callable[[bytes], str | None]
"""The validation callback: an error message, or None when the document is valid."""


@dataclass(frozen=True, slots=True)
class Violation:
    invariant: str
    node: str
    at_ms: int
    message: str

    def __str__(self) -> str:
        return f"[{self.invariant}] at {self.at_ms}ms on {self.node}: {self.message}"


class InvariantChecker:
    """Collects violations; `violations` empty means every invariant held so far."""

    def __init__(
        self,
        *,
        cluster: str,
        members: tuple[str, ...],
        quorum: int,
        keyring: KeyRing,
        hash_fn: HashFn,
        validate: Validator,
        genesis: Entry,
        params: ConsensusParams | None = None,
    ) -> None:
        """`params`: the cluster's parameters, to check honest VIEW_CHANGE reports too."""
        self.cluster = cluster
        self.members = members
        self.quorum = quorum
        self._keyring = keyring
        self._hash = hash_fn
        self._validate = validate
        self._genesis = genesis
        self._verifier = (Verifier(params, keyring, hash_fn, genesis)
                          if params is not None else None)
        self._last_report: ViewChange | None = None
        self.violations: list[Violation] = []
        self.proposed_documents: set[bytes] = set()
        self.decided: dict[int, str] = {}
        """revision -> entry digest, as first applied by any honest replica."""
        self.heads: dict[str, Entry] = {}
        """honest replica -> the last entry it applied (revision 0: genesis)."""
        self._votes: dict[tuple[str, str, int, int, int], str] = {}
        self.now_ms = 0

    # -- inputs ------------------------------------------------------------------
    def client_proposed(self, document: bytes) -> None:
        self.proposed_documents.add(document)

    def replica_started(self, node: str, head: Entry) -> None:
        """A replica (re)starts on `head`: it must be what that replica applied last."""
        known = self.heads.get(node)
        if known is None:
            if head.revision != 0 or head.digest != self._genesis.digest:
                self._fail("chain", node, f"first start on revision {head.revision}, not genesis")
            self.heads[node] = head
        elif known.digest != head.digest:
            self._fail(
                "chain",
                node,
                f"restarted on revision {head.revision} ({head.digest[:12]}) but had applied "
                f"revision {known.revision} ({known.digest[:12]}) before the crash",
            )

    def applied(self, node: str, decided: Decided) -> None:
        """An honest replica applied `decided`: check every safety invariant about it."""
        entry, cert = decided.entry, decided.certificate
        head = self.heads.get(node, self._genesis)
        label = f"revision {entry.revision} ({entry.digest[:12]})"
        if entry.revision != head.revision + 1:
            self._fail("chain", node, f"applied {label} right after revision {head.revision}")
        elif entry.parent_digest != head.digest:
            self._fail("chain", node, f"{label} does not chain to revision {head.revision}")
        if not entry_is_consistent(entry, self.cluster, self._hash):
            self._fail("integrity", node, f"{label}: digest does not match its content")
        problem = self.certificate_problem(entry, cert)
        if problem:
            self._fail("integrity", node, f"{label} applied without a valid certificate: {problem}")
        if entry.document not in self.proposed_documents:
            self._fail(
                "integrity", node, f"{label}: document {entry.document!r} was never proposed"
            )
        error = self._validate(entry.document)
        if error is not None:
            self._fail("integrity", node, f"{label}: invalid document applied ({error})")
        first = self.decided.setdefault(entry.revision, entry.digest)
        if first != entry.digest:
            self._fail(
                "agreement",
                node,
                f"applied {label} but another honest replica applied {first[:12]} there",
            )
        self.heads[node] = entry

    def signed(self, node: str, message: SignedMessage) -> None:
        """An honest replica emitted `message`: record its votes, flag double votes, and
        check its VIEW_CHANGE reports (once per broadcast)."""
        if isinstance(message, ViewChange) and message is not self._last_report:
            self._last_report = message
            problem = self.report_problem(message)
            if problem is not None:
                self._fail("valid reports", node, f"its report cannot justify its ballot "
                                                  f"{message.ballot}: {problem}")
        if not isinstance(message, PrepareOk | CommitVote):
            return
        key = (message_type_name(message), message.sender, message.view, message.attempt,
               message.revision)
        first = self._votes.setdefault(key, message.digest)
        if first != message.digest:
            self._fail(
                "single-vote",
                node,
                f"signed {key[0]} for two digests in ballot ({message.view},{message.attempt}) "
                f"revision {message.revision}: {first[:12]} and {message.digest[:12]}",
            )

    # -- the independent certificate check ---------------------------------------
    def certificate_problem(self, entry: Entry, cert: CommitCertificate | None) -> str | None:
        """Why `cert` does not prove `entry` decided, or None when it does."""
        if cert is None:
            return "no certificate"
        if cert.revision != entry.revision or cert.digest != entry.digest:
            return "certificate names another revision or digest"
        votes: Iterable[CommitVote | PrepareOk]
        kind: type[CommitVote | PrepareOk]
        if cert.commit_votes and not cert.fast_votes:
            votes, kind, needed = cert.commit_votes, CommitVote, self.quorum
        elif cert.fast_votes and not cert.commit_votes:
            votes, kind, needed = cert.fast_votes, PrepareOk, len(self.members)
        else:
            return "certificate must hold commit votes or fast-path votes, not both or neither"
        signers: set[str] = set()
        for vote in votes:
            if type(vote) is not kind:
                return f"a {type(vote).__name__} among {kind.__name__} votes"
            if isinstance(vote, PrepareOk) and not vote.fast:
                return f"fast certificate holds a non-fast vote of {vote.sender}"
            if (vote.cluster, vote.view, vote.attempt, vote.revision, vote.digest) != (
                self.cluster, cert.view, cert.attempt, cert.revision, cert.digest
            ):
                return f"a vote of {vote.sender} is for another ballot, revision or digest"
            if vote.sender not in self.members:
                return f"vote from non-member {vote.sender!r}"
            if not self._keyring.verify_message(vote):
                return f"bad signature on the vote of {vote.sender}"
            signers.add(vote.sender)
        if len(signers) < needed:
            return f"{len(signers)} distinct signers, {needed} needed"
        return None

    def report_problem(self, report: ViewChange) -> str | None:
        """Why an honest member's report cannot justify the ballot it names (None if it can,
        or when the checker was built without `params`)."""
        if self._verifier is None:
            return None
        return report_problem(self._verifier, report, report.ballot)

    def evidence_found(self, node: str, event: EvidenceFound, *, accused_honest: bool) -> None:
        """An honest replica found evidence: flag it when it is false (see `false_evidence`)."""
        problem = false_evidence(event, accused_honest=accused_honest)
        if problem is not None:
            self._fail("no false evidence", node, problem)

    # -- results -------------------------------------------------------------------
    def _fail(self, invariant: str, node: str, message: str) -> None:
        self.violations.append(Violation(invariant, node, self.now_ms, message))


def false_evidence(event: EvidenceFound, *, accused_honest: bool) -> str | None:
    """No false evidence: an honest replica never finds critical evidence against an
    honest member (only a veto's small, non-critical cost may land on one)."""
    if event.critical and accused_honest:
        return f"{event.kind} against honest {event.member}: {event.detail}"
    return None
