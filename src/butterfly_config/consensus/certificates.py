"""Checking certificates: sets of signed votes that prove a quorum agreed.

Every check returns None when the thing is valid, or a short reason why not
(the reason ends up in evidence against whoever sent it). A valid certificate
has only votes that are correctly signed by distinct members, all for the same
cluster, ballot, revision and digest, and enough of them: q for prepare and
commit certificates, all n for a fast commit certificate.
"""

from __future__ import annotations

from collections.abc import Sequence

from butterfly_config.consensus.crypto import KeyRing
from butterfly_config.consensus.messages import (
    Abort,
    CommitCertificate,
    CommitVote,
    Decided,
    Entry,
    HashFn,
    PrepareCertificate,
    PrepareOk,
    SignedMessage,
    entry_is_consistent,
)
from butterfly_config.consensus.params import ConsensusParams


class Verifier:
    """Signature and certificate checks against one cluster's member set."""

    def __init__(
        self, params: ConsensusParams, keyring: KeyRing, hash_fn: HashFn, genesis: Entry
    ) -> None:
        self.params = params
        self.keyring = keyring
        self.hash_fn = hash_fn
        self.genesis = genesis
        self._members = frozenset(params.member_ids)

    def is_member(self, node_id: str) -> bool:
        return node_id in self._members

    def message_problem(self, message: SignedMessage) -> str | None:
        """Why a message is not authentic for this cluster (None if it is)."""
        problem = self.header_problem(message)
        if problem is None and not self.keyring.verify_message(message):
            problem = f"bad signature from {message.sender}"
        return problem

    def header_problem(self, message: SignedMessage) -> str | None:
        """Why a message cannot be for this cluster, its signature left unchecked."""
        if message.cluster != self.params.cluster_name:
            return f"message for cluster {message.cluster!r}"
        if message.sender not in self._members:
            return f"sender {message.sender!r} is not a member"
        if message.view < 0 or message.attempt < 0 or message.revision < 0:
            return "negative view, attempt or revision"
        return None

    def entry_problem(self, entry: Entry) -> str | None:
        if not entry_is_consistent(entry, self.params.cluster_name, self.hash_fn):
            return f"entry for revision {entry.revision} does not hash to its digest"
        return None

    def _votes_problem(
        self,
        votes: Sequence[PrepareOk] | Sequence[CommitVote],
        view: int,
        attempt: int,
        revision: int,
        digest: str,
        needed: int,
    ) -> str | None:
        seen: set[str] = set()
        for vote in votes:
            if vote.sender in seen:
                return f"duplicate signer {vote.sender}"
            seen.add(vote.sender)
            if (vote.view, vote.attempt, vote.revision, vote.digest) != (
                view,
                attempt,
                revision,
                digest,
            ):
                return f"vote of {vote.sender} is for another ballot, revision or digest"
            problem = self.message_problem(vote)
            if problem is not None:
                return problem
        if len(seen) < needed:
            return f"{len(seen)} signers, {needed} needed"
        return None

    def prepare_certificate_problem(self, cert: PrepareCertificate) -> str | None:
        return self._votes_problem(
            cert.votes, cert.view, cert.attempt, cert.revision, cert.digest, self.params.quorum
        )

    def commit_certificate_problem(self, cert: CommitCertificate) -> str | None:
        if cert.commit_votes and cert.fast_votes:
            return "certificate mixes commit votes and fast votes"
        if cert.fast_votes:
            if not all(v.fast for v in cert.fast_votes):
                return "fast certificate holds votes not cast for the fast path"
            return self._votes_problem(
                cert.fast_votes,
                cert.view,
                cert.attempt,
                cert.revision,
                cert.digest,
                self.params.n,
            )
        return self._votes_problem(
            cert.commit_votes,
            cert.view,
            cert.attempt,
            cert.revision,
            cert.digest,
            self.params.quorum,
        )

    def decided_problem(self, decided: Decided) -> str | None:
        """Why `decided` does not prove its entry committed (chain not checked here)."""
        entry = decided.entry
        problem = self.entry_problem(entry)
        if problem is not None:
            return problem
        cert = decided.certificate
        if cert is None:
            if entry.revision == 0 and entry.digest == self.genesis.digest:
                return None
            return f"revision {entry.revision} has no commit certificate"
        if cert.revision != entry.revision or cert.digest != entry.digest:
            return "certificate is for another revision or digest"
        return self.commit_certificate_problem(cert)

    def abort_is_definitive(self, abort: Abort) -> bool:
        """True when a signed ABORT proves its ballot can have no fast decision.

        It must carry valid PREPARE_REJECTs of its ballot from at least f
        distinct members other than the coordinator that signed it: a fast
        certificate for the same ballot would need those members to have
        signed PREPARE_OK too, and with the coordinator that makes f+1 faulty
        members. (See docs/consensus.md, "Aborts".)
        """
        if self.message_problem(abort) is not None:
            return False
        if abort.sender != self.params.coordinator_of(abort.view):
            return False
        rejecters: set[str] = set()
        for reject in abort.rejects:
            if (reject.view, reject.attempt, reject.revision, reject.digest) != (
                abort.view,
                abort.attempt,
                abort.revision,
                abort.digest,
            ):
                continue
            if reject.sender == abort.sender or self.message_problem(reject) is not None:
                continue
            rejecters.add(reject.sender)
        return len(rejecters) >= self.params.f
