"""The replica: the consensus protocol as a pure state machine.

No I/O, no clock, no threads. The caller feeds it messages (`step`), time
(`tick`) and client proposals (`propose`), and collects `Ready` batches of
state to persist, messages to send, revisions to apply and events.
See docs/consensus.md for the protocol and its safety argument.

Reading guide: one handler per message type (`_on_<type>`), grouped as
member side (answers a coordinator), coordinator side (drives a ballot),
view change, catch-up. Every handler first checks the message against the
replica's state and drops what does not fit; evidence is recorded only for
what a signature proves.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.crypto import KeyRing, Signer, sign_message
from butterfly_config.consensus.messages import (
    Abort,
    Ballot,
    CommitCertificate,
    CommitRequest,
    CommitVote,
    ConfigApplied,
    Decided,
    Entry,
    Fetch,
    FetchReply,
    Finalize,
    Forward,
    HashFn,
    Message,
    NewView,
    PrepareCertificate,
    PrepareOk,
    PrepareReject,
    Propose,
    Refuse,
    RefuseKind,
    SignedMessage,
    Status,
    ViewChange,
    make_entry,
)
from butterfly_config.consensus.params import ConsensusParams
from butterfly_config.consensus.reputation import Reputation
from butterfly_config.consensus.rounds import (
    ClientRequest,
    Collection,
    CoordinatorRound,
    FinalizeResend,
    OwnRequest,
)
from butterfly_config.consensus.selection import Selection, report_problem, reports_problem, select
from butterfly_config.consensus.state import (
    CaughtUp,
    CommitVoteRecord,
    Event,
    EvidenceFound,
    HardState,
    MemberState,
    Outbound,
    ProposalAborted,
    ProposalCommitted,
    ProposalRefused,
    Ready,
    ReputationChanged,
    Verdict,
    ViewChanged,
    ViewChangeFailed,
    VoteRecord,
)

M = TypeVar("M", bound=SignedMessage)

Validator = Callable[[bytes, bytes], Verdict]
"""validate(proposed_document, current_head_document) -> Verdict."""

FETCH_BATCH = 64
"""Revisions per FETCH_REPLY."""

FINALIZE_RESENDS = 3

SEEN_REVISIONS = 4
"""Signed answers are remembered this many revisions back to catch equivocation."""

REPORTABLE_VOTES = 32
"""PREPARE_OK votes kept per revision for reports (enough to survive a run of
definitive aborts, bounded against a coordinator that aborts forever)."""

INVALID_REQUESTS_KEPT = 8
INVALID_REQUESTS_WINDOW_MS = 1000
"""A member with INVALID_REQUESTS_KEPT invalid forwarded requests within the last
window has its next requests refused as busy, unchecked, until the oldest of
those leaves the window: each check is a full validation, and a faulty member
could otherwise keep the coordinator validating garbage. So a coordinator
validates at most that many invalid requests per member per window."""

_SENDER_CHECKED_WHEN_TRUSTED = (Finalize, ConfigApplied)
"""Messages whose effect does not rest on their sender: a FINALIZE is applied on
the strength of its certificate, a CONFIG_APPLIED only spares a re-send. Their
signatures are checked on the paths that do trust the sender, which saves one
check per member per commit on the path of the reply, and three on the
coordinator's."""

RETAINED_REVISIONS = 2 * FETCH_BATCH
"""Decided revisions kept in memory when the caller can read older ones back
(`history_source`); every revision's digest is kept regardless."""

HistorySource = Callable[[int, int], Sequence[Decided]]
"""history_source(first_revision, count) -> up to `count` decided revisions from
`first_revision` on, in order (the caller's durable store)."""


class Replica:
    """One member's view of the protocol.

    `log` is the committed history the caller loaded (revision 0 first, then
    every committed revision in order; any iterable, read once); `hard_state`
    the last persisted HardState, or None on first boot.

    `history_source`: how to read committed revisions back from the caller's
    store. With it, only the last `retained_revisions` decided revisions stay in
    memory (older ones are read back to serve a peer's FETCH), so memory does
    not grow with the history; without it, every revision stays in memory.
    """

    def __init__(
        self,
        params: ConsensusParams,
        signer: Signer,
        validate: Validator,
        hash_fn: HashFn,
        log: Iterable[Decided],
        hard_state: HardState | None = None,
        now_ms: int = 0,
        keyring: KeyRing | None = None,
        history_source: HistorySource | None = None,
        retained_revisions: int = RETAINED_REVISIONS,
    ) -> None:
        if signer.node_id not in params.member_ids:
            raise ValueError(f"{signer.node_id!r} is not a member of {params.cluster_name!r}")
        if retained_revisions < 1:
            raise ValueError("at least the head revision stays in memory")
        self._history_source = history_source
        self._retained = retained_revisions if history_source is not None else None
        self._digests: list[str] = []
        """Every committed revision's entry digest, by revision."""
        self._log: deque[Decided] = deque()
        """The newest committed revisions (all of them without a history source)."""
        genesis: Entry | None = None
        for decided in log:
            entry, index = decided.entry, len(self._digests)
            if entry.revision != index:
                raise ValueError(f"log entry {index} holds revision {entry.revision}")
            if index and entry.parent_digest != self._digests[-1]:
                raise ValueError(f"revision {index} does not chain to revision {index - 1}")
            if genesis is None:
                genesis = entry
            self._remember_decided(decided)
        if genesis is None:
            raise ValueError("the log must start with revision 0")
        self._params = params
        self._signer = signer
        self._id = signer.node_id
        self._keyring = keyring or params.keyring()
        # own signatures are remembered as verified only when the ring holds this very key
        # (a node whose key does not match cluster.members keeps checking them, and failing)
        self._remember_own = self._keyring.holds_key_of(signer)
        self._validate = validate
        self._hash = hash_fn
        self._verifier = Verifier(params, self._keyring, hash_fn, genesis)
        self._now = now_ms

        hs = hard_state
        if hs is not None and hs.head_revision > self.head_revision:
            raise ValueError("hard state is ahead of the log: the log lost committed revisions")
        if hs is not None and self._digests[hs.head_revision] != hs.head_digest:
            raise ValueError("hard state names a different head digest than the log")
        self._view = hs.view if hs else 0
        self._attempt = hs.attempt if hs else 0
        same_head = hs is not None and hs.head_revision == self.head_revision
        self._vote: VoteRecord | None = hs.vote if hs and same_head else None
        self._reportable: tuple[VoteRecord, ...] = hs.reportable if hs and same_head else ()
        if not self._reportable and self._vote is not None and self._vote.ok:
            # a store that predates `reportable`: the last OK must still be reported
            self._reportable = (self._vote,)
        self._commit_vote: CommitVoteRecord | None = hs.commit_vote if hs and same_head else None
        self._lock: PrepareCertificate | None = hs.lock if hs and same_head else None
        self._lock_entry: Entry | None = hs.lock_entry if hs and same_head else None
        self._proposal: Entry | None = hs.proposal if hs and same_head else None
        self._proposal_ballot: Ballot = (
            (hs.proposal_view, hs.proposal_attempt) if hs and same_head else (-1, -1)
        )
        if hs is not None and not same_head:
            self._attempt = 0
        self._reputation = Reputation(
            params.reputation, params.member_ids, hs.reputation if hs else ()
        )

        # outputs
        self._outbox: list[Outbound] = []
        self._events: list[Event] = []
        self._committed_out: list[Decided] = []
        self._dirty = hard_state is None
        self._version = 0
        self._loopback: deque[Message] = deque()

        # soft state
        self._established = True
        self._last_established_view = self._view
        self._vc_round = 0
        self._vc_failed_reported = False
        self._last_progress = now_ms
        self._next_vc_resend = 0
        self._view_reports: tuple[ViewChange, ...] | None = () if self._view == 0 else None
        self._ballot_reports: tuple[ViewChange, ...] | None = (
            () if (self._view, self._attempt) == (0, 0) else None
        )
        if self._attempt == 0 and self._view_reports is not None:
            self._ballot_reports = self._view_reports
        self._round: CoordinatorRound | None = None
        self._collections: dict[Ballot, Collection] = {}
        self._vc_seen: dict[str, int] = {}
        self._queued: ClientRequest | None = None
        self._held_request: ClientRequest | None = None
        self._held_until = 0
        self._own: dict[str, OwnRequest] = {}
        self._responses: dict[Ballot, Message] = {}
        self._seen: dict[tuple[str, str, int, int, int], Message] = {}
        self._proposals_seen: dict[Ballot, Propose] = {}
        self._finalize_resend: FinalizeResend | None = None
        self._fetch_blocked_until = -1
        self._invalid_from: dict[str, deque[int]] = {}
        """Per origin: when the coordinator last found its requests invalid (newest last)."""
        self._fetch_served: dict[str, tuple[int, int]] = {}
        """Per peer: the first revision of the last batch served to it, and when."""
        self._unresponsive: frozenset[str] = frozenset()
        self._next_status = now_ms
        if self._proposal is not None and self.coordinator == self._id:
            # finish (or give up properly) what this coordinator proposed before it stopped
            self._try_start()
            self._drain()

    # ================================================================ inputs

    def propose(
        self, request_id: str, document: bytes, initiator: str = "", revision: int | None = None
    ) -> None:
        """Start (or forward to the coordinator) a cluster-wide change.

        `revision`: the revision the change means to become, one past the head its
        document was built on (default: this replica's head). It commits as that
        revision or not at all: a coordinator at another head refuses it as `stale`,
        so a change built on an older configuration cannot undo newer ones.

        The outcome arrives as an event: ProposalCommitted, ProposalAborted
        or ProposalRefused (busy / invalid / not_ready / stale / veto).
        """
        if request_id in self._own:
            self._events.append(
                ProposalRefused(request_id, "busy", "this request id is already in flight")
            )
            return
        wanted = self.head_revision + 1 if revision is None else revision
        request = ClientRequest(request_id, self._id, initiator, document, wanted)
        self._own[request_id] = OwnRequest(
            request,
            forward_deadline_ms=self._now
            + self._params.scaled(self._params.pre_prepare_timeout_ms),
            outcome_deadline_ms=self._now + self._outcome_timeout(),
        )
        if not self._established:
            self._send_to_all(request_id)
        elif self.coordinator == self._id:
            self._on_client_request(request)
        else:
            self._send(self.coordinator, self._forward_message(request))
        self._drain()

    def _send_to_all(self, request_id: str) -> None:
        """Forward an own request to every member, as PBFT does with a request the
        coordinator ignores.

        Done at once by a member in a view change: it cannot tell which coordinator
        will get a ballot established next; it may be its peers' current one (a
        member alone in a higher view votes in no lower ballot, but its peers'
        coordinator can still get its request agreed, and the FINALIZE reaches it
        all the same). If this member coordinates the view it waits for, the request
        stays in `_own`, which it proposes once the view is established. Sent again
        at the forward deadline, in case this copy is lost.
        """
        own = self._own[request_id]
        own.broadcast = True
        self._broadcast(self._forward_message(own.request))

    def step(self, message: Message) -> None:
        """Handle one message from a peer (its signature is checked here, or, for the
        messages in `_SENDER_CHECKED_WHEN_TRUSTED`, before anything trusts their sender)."""
        if self._reputation.is_isolated(message.sender) or message.sender == self._id:
            return
        if isinstance(message, _SENDER_CHECKED_WHEN_TRUSTED):
            if self._verifier.header_problem(message) is not None:
                return
        elif self._verifier.message_problem(message) is not None:
            return
        self._dispatch(message)
        self._drain()

    def tick(self, now_ms: int) -> None:
        """Advance the replica's notion of time (monotonic milliseconds)."""
        if now_ms < self._now:
            return
        self._now = now_ms
        self._tick_own_requests()
        self._tick_coordinator()
        self._tick_progress()
        self._tick_status()
        self._drain()

    def suspect_coordinator(self) -> None:
        """The failure detector suspects the coordinator: start a view change now."""
        if self.coordinator != self._id:
            self._start_view_change(self._view + 1)
            self._drain()

    def set_unresponsive(self, members: Iterable[str]) -> None:
        """The members the failure detector currently holds failed.

        A coordinator on the fast path waits for all n PREPARE answers, up to
        the prepare timeout, before settling for the commit round with a
        quorum. Waiting for a member known to be down only delays every
        update by that timeout, so once every member still silent is in this
        set, the round moves on. Safety is untouched: the commit round with a
        quorum is always allowed; only how long to wait for stragglers changes.
        """
        unresponsive = frozenset(members) & frozenset(self._params.member_ids) - {self._id}
        if unresponsive == self._unresponsive:
            return
        self._unresponsive = unresponsive
        if self._round is not None and self._round.phase == "prepare":
            self._advance_prepare()
            self._drain()

    def request_sync(self) -> None:
        """Ask every peer for the revisions after this replica's head now."""
        fetch = self._sign(Fetch(*self._header(self.head_revision)))
        self._broadcast(fetch)
        self._fetch_blocked_until = self._now + self._params.status_interval_ms

    def set_params(self, params: ConsensusParams) -> None:
        """Swap timeouts/reputation/protocol live (membership may not change).

        Call it when applying the committed revision that changed them, before
        stepping any further message, so every member switches at the same
        revision.
        """
        if not self._params.same_cluster(params):
            raise ValueError(
                "cluster name, members, f, coordinator and signing algorithm "
                "cannot change at runtime"
            )
        self._params = params
        self._verifier.params = params
        self._reputation.params = params.reputation

    def reset_reputation(self, member: str) -> None:
        """Operator action: give an isolated member a fresh start."""
        if self._reputation.reset(member):
            self._reputation_changed(member)

    # ================================================================ outputs

    def has_ready(self) -> bool:
        return bool(self._dirty or self._outbox or self._events or self._committed_out)

    def ready(self) -> Ready:
        """Everything produced since the last advance (see consensus.state)."""
        return Ready(
            self._hard_state() if self._dirty else None,
            tuple(self._committed_out),
            tuple(self._outbox),
            tuple(self._events),
        )

    def advance(self, ready: Ready) -> None:
        """The caller persisted, sent and applied `ready`: forget it."""
        del self._committed_out[: len(ready.committed)]
        del self._outbox[: len(ready.messages)]
        del self._events[: len(ready.events)]
        if ready.hard_state is not None and ready.hard_state == self._hard_state():
            self._dirty = False

    # ================================================================ status

    @property
    def node_id(self) -> str:
        return self._id

    @property
    def params(self) -> ConsensusParams:
        return self._params

    @property
    def view(self) -> int:
        return self._view

    @property
    def ballot(self) -> Ballot:
        return (self._view, self._attempt)

    @property
    def coordinator(self) -> str:
        return self._params.coordinator_of(self._view)

    @property
    def head(self) -> Decided:
        return self._log[-1]

    @property
    def head_revision(self) -> int:
        return len(self._digests) - 1

    @property
    def log(self) -> tuple[Decided, ...]:
        """The committed revisions held in memory: all of them, or with a history
        source the newest RETAINED_REVISIONS (see `decided`)."""
        return tuple(self._log)

    def decided(self, revision: int) -> Decided | None:
        """Committed revision `revision`, from memory or the history source."""
        if not 0 <= revision <= self.head_revision:
            return None
        found = self._decided_from(revision, 1)
        return found[0] if found else None

    def _decided_from(self, start: int, count: int) -> tuple[Decided, ...]:
        """Up to `count` committed revisions from `start` on: memory, else the source."""
        first = len(self._digests) - len(self._log)
        if start >= first:
            return tuple(itertools.islice(self._log, start - first, start - first + count))
        assert self._history_source is not None  # all revisions are in memory otherwise
        return tuple(self._history_source(start, count))

    def _remember_decided(self, decided: Decided) -> None:
        self._digests.append(decided.entry.digest)
        self._log.append(decided)
        if self._retained is not None and len(self._log) > self._retained:
            self._log.popleft()

    @property
    def established(self) -> bool:
        """False while a view change this replica joined is not complete."""
        return self._established

    @property
    def in_flight(self) -> bool:
        """True while this replica knows of an update being agreed."""
        return bool(
            self._round is not None
            or self._queued is not None
            or self._own
            or (self._vote is not None and self._vote_active())
            or self._lock is not None
        )

    def reputation(self, member: str) -> float:
        return self._reputation.score(member)

    def member_state(self, member: str) -> MemberState:
        return self._reputation.state(member)

    # ================================================================ plumbing

    def _hard_state(self) -> HardState:
        return HardState(
            view=self._view,
            attempt=self._attempt,
            head_revision=self.head_revision,
            head_digest=self.head.entry.digest,
            vote=self._vote,
            commit_vote=self._commit_vote,
            lock=self._lock,
            lock_entry=self._lock_entry,
            proposal=self._proposal,
            proposal_view=self._proposal_ballot[0],
            proposal_attempt=self._proposal_ballot[1],
            reputation=self._reputation.snapshot(),
            reportable=self._reportable,
        )

    def _header(
        self, revision: int, ballot: Ballot | None = None
    ) -> tuple[str, str, int, int, int]:
        view, attempt = ballot if ballot is not None else (self._view, self._attempt)
        return (self._params.cluster_name, self._id, view, attempt, revision)

    def _sign(self, message: M) -> M:
        return sign_message(self._signer, message,
                            remember_in=self._keyring if self._remember_own else None)

    def _send(self, to: str, message: Message) -> None:
        if to == self._id:
            self._loopback.append(message)
        else:
            self._outbox.append(Outbound(to, message))

    def _broadcast(
        self, message: Message, include_self: bool = False, *, last: str = "", first: str = ""
    ) -> None:
        """To every other member; `first` / `last` only order the batch (the network may
        reorder it anyway): the member whose work is on the client's path goes first."""
        others = [m for m in self._params.member_ids if m != self._id]
        ordered = sorted(others, key=lambda m: (m != first, m == last))  # stable: member order
        self._outbox.extend(Outbound(member, message) for member in ordered)
        if include_self:
            self._loopback.append(message)

    def _drain(self) -> None:
        """Deliver messages this replica sent to itself (no signature check needed)."""
        while self._loopback:
            self._dispatch(self._loopback.popleft())

    def _touch(self) -> None:
        self._dirty = True

    def _dispatch(self, message: Message) -> None:
        handler = _HANDLERS.get(type(message))
        if handler is not None:
            handler(self, message)

    def _outcome_timeout(self) -> int:
        p = self._params
        phases = p.pre_prepare_timeout_ms + p.prepare_timeout_ms + p.commit_timeout_ms
        return p.scaled(phases) + 2 * p.scaled(p.view_change_timeout_ms)

    def _head_document(self) -> bytes:
        return self.head.entry.document

    # ================================================================ evidence

    def _evidence(self, member: str, kind: str, detail: str, critical: bool = True) -> None:
        self._events.append(EvidenceFound(member, kind, detail, critical))
        if self._reputation.penalize(member, critical):
            self._reputation_changed(member)

    def _reputation_changed(self, member: str) -> None:
        self._touch()
        self._events.append(
            ReputationChanged(
                member, self._reputation.score(member), self._reputation.state(member)
            )
        )

    def _check_equivocation(
        self, kind: str, message: Propose | PrepareOk | PrepareReject | CommitVote, digest: str
    ) -> bool:
        """Remember one signed answer per (kind, sender, ballot, revision).

        Returns False (and records evidence) when the sender already signed a
        different digest for the same slot.
        """
        key = (kind, message.sender, message.view, message.attempt, message.revision)
        earlier = self._seen.get(key)
        if earlier is None:
            self._seen[key] = message
            return True
        earlier_digest = getattr(earlier, "digest", None)
        if isinstance(earlier, Propose):
            earlier_digest = earlier.entry.digest
        same = earlier_digest == digest and type(earlier) is type(message)
        if not same:
            self._evidence(
                message.sender,
                "equivocation",
                f"signed two different {kind} answers for ballot "
                f"{message.ballot} revision {message.revision}",
            )
            return False
        return True

    # ================================================================ client requests

    def _forward_message(self, request: ClientRequest) -> Forward:
        forward = Forward(
            *self._header(request.revision),
            request_id=request.request_id,
            initiator=request.initiator,
            document=request.document,
        )
        return self._sign(forward)

    def _on_forward(self, message: Forward) -> None:
        request = ClientRequest(
            message.request_id, message.sender, message.initiator, message.document,
            message.revision,
        )
        if self._committed_as_requested(request):
            return  # a late copy: it is decided already (its origin catches up)
        if self.coordinator == self._id and self._established:
            self._on_client_request(request)
        elif self._held_request is None:
            # A forward broadcast because the coordinator did not answer: hold it,
            # so that whoever coordinates next can propose it.
            self._held_request = request
            self._held_until = self._now + self._outcome_timeout()

    def _refuse(self, request: ClientRequest, kind: RefuseKind, reason: str) -> None:
        if request.origin == self._id:
            self._own_refused(request.request_id, kind, reason)
            return
        refuse = Refuse(
            *self._header(self.head_revision + 1),
            request_id=request.request_id,
            kind=kind,
            reason=reason,
        )
        self._send(request.origin, self._sign(refuse))

    def _on_refuse(self, message: Refuse) -> None:
        if message.sender != self.coordinator and not self._refusal_while_changing(message):
            return
        self._own_refused(message.request_id, message.kind, message.reason)

    def _own_refused(self, request_id: str, kind: RefuseKind, reason: str) -> None:
        """Report the refusal of an own request, unless it is not final yet."""
        own = self._own.get(request_id)
        if own is None:
            return
        if kind == "busy" and own.broadcast:
            # the other members hold copies, and a later coordinator may propose one:
            # "nothing applied" is not final until another entry takes its revision
            own.refusal = (kind, reason)
            return
        del self._own[request_id]
        self._events.append(ProposalRefused(request_id, kind, reason))

    def _refusal_while_changing(self, message: Refuse) -> bool:
        """A refusal this member, in a view change, takes from the coordinator of the
        view it last saw established: its request went to every member
        (`_send_to_all`), and that coordinator, which its peers may still follow, is one
        it has left behind. Only that one: every member coordinates some view, so a
        refusal "from the coordinator of view V" for any V could come from anyone."""
        view = self._last_established_view
        return (not self._established and message.view == view
                and message.sender == self._params.coordinator_of(view))

    def _on_client_request(self, request: ClientRequest) -> None:
        """Coordinator: accept one client request at a time."""
        active = self._round.entry.request_id if self._round else None
        queued = self._queued.request_id if self._queued else None
        if request.request_id in (active, queued):
            return
        if self._committed_as_requested(request):
            return  # a late copy of a request already decided
        if self._round is not None or self._queued is not None:
            self._refuse(request, "busy", "another configuration update is in progress")
            return
        if self._refused_as_stale(request, self.head_revision + 1):
            return
        invalid = self._invalid_from.get(request.origin)
        if invalid is not None and len(invalid) == INVALID_REQUESTS_KEPT and (
            self._now - invalid[0] < INVALID_REQUESTS_WINDOW_MS
        ):
            self._refuse(request, "busy", (
                f"{request.origin} sent {INVALID_REQUESTS_KEPT} invalid updates within "
                f"{INVALID_REQUESTS_WINDOW_MS} ms: its requests wait a moment before being "
                "checked again"))
            return
        verdict = self._validate(request.document, self._head_document())
        if not verdict.ok:
            if verdict.kind != "veto" and request.origin != self._id:
                self._invalid_from.setdefault(
                    request.origin, deque(maxlen=INVALID_REQUESTS_KEPT)).append(self._now)
            self._refuse(request, verdict.kind or "invalid", verdict.reason)
            return
        self._queued = request
        self._try_start()

    def _refused_as_stale(self, request: ClientRequest, revision: int) -> bool:
        """Coordinator: refuse a request built on another head than the one `revision`
        follows. Behind the request's origin, it also asks the origin for what it lacks."""
        if request.revision == revision:
            return False
        if request.revision > revision:
            self._fetch_from(request.origin)
        elif self._committed_as_requested(request):
            return True  # decided already: not stale, done (its origin catches up)
        self._refuse(
            request, "stale",
            f"the update was made against revision {request.revision - 1}, but the "
            f"coordinator is at revision {revision - 1}: the configuration changed meanwhile",
        )
        return True

    def _committed_as_requested(self, request: ClientRequest) -> bool:
        """Whether `request` is decided already, as the revision it was made for.

        Looked up among the revisions kept in memory only: a copy of a request older
        than those is long settled either way, and a member replaying old requests
        must not make this replica read its history source for each one.
        """
        first = len(self._digests) - len(self._log)
        if not first <= request.revision <= self.head_revision:
            return False
        return self._log[request.revision - first].entry.request_id == request.request_id

    # ================================================================ coordinator

    def _justification(self) -> tuple[ViewChange, ...] | None:
        """The reports that justify proposing in the current ballot, if known."""
        if (self._view, self._attempt) == (0, 0):
            return ()
        return self._ballot_reports

    def _try_start(self) -> None:
        """Coordinator: propose in the current ballot if allowed and useful."""
        if self.coordinator != self._id or not self._established or self._round is not None:
            return
        ballot = (self._view, self._attempt)
        if ballot in self._collections:
            return  # still gathering reports for this ballot
        justification = self._justification()
        if justification is None:
            if self._queued is not None or self._lock is not None or self._proposal is not None:
                self._reballot("the coordinator has no justification for its ballot")
            return
        revision = self.head_revision + 1
        selection = (
            select(justification, revision, self._params.f) if justification else Selection("free")
        )
        if selection.kind == "stale":
            for report in justification:
                if report.revision > revision:
                    self._fetch_from(report.sender)
                    break
            return
        if self._proposal is not None and self._proposal_ballot == ballot:
            entry: Entry = self._proposal
            forced = selection.kind == "forced"
            if selection.entry is not None and selection.entry.digest != entry.digest:
                self._reballot("the coordinator's earlier proposal conflicts with the reports")
                return
        elif selection.kind == "forced":
            assert selection.entry is not None
            entry = selection.entry
            forced = True
            if self._queued is not None and self._queued.request_id != entry.request_id:
                request, self._queued = self._queued, None
                self._refuse(request, "busy", "an earlier update must be finished first")
        elif self._queued is not None:
            request = self._queued
            if self._refused_as_stale(request, revision):
                self._queued = None
                return
            verdict = self._validate(request.document, self._head_document())
            if not verdict.ok:
                self._queued = None
                self._refuse(request, "invalid", verdict.reason)
                return
            entry = make_entry(
                self._hash,
                self._params.cluster_name,
                revision,
                self.head.entry.digest,
                request.document,
                request.request_id,
                request.origin,
                request.initiator,
            )
            forced = False
        else:
            return
        if self._queued is not None and self._queued.request_id == entry.request_id:
            self._queued = None
        self._proposal = entry
        self._proposal_ballot = ballot
        self._touch()
        fast = self._params.protocol == "optimistic_pbft"
        self._round = CoordinatorRound(
            ballot,
            entry,
            forced=forced,
            fast=fast,
            started_ms=self._now,
            next_resend_ms=self._now + self._resend_interval(self._params.prepare_timeout_ms),
        )
        self._finalize_resend = None
        propose = Propose(
            *self._header(revision, ballot),
            entry=entry,
            fast=fast,
            justification=justification,
        )
        # the origin has checked the document already: the others have more to do first
        self._broadcast(self._sign(propose), include_self=True, last=entry.origin)

    def _resend_interval(self, base_ms: int) -> int:
        return max(1, self._params.scaled(base_ms) // 4)

    def _on_prepare_response(self, message: PrepareOk | PrepareReject) -> None:
        kind = "prepare"
        if not self._check_equivocation(kind, message, message.digest):
            return
        rnd = self._round
        if rnd is None or message.ballot != rnd.ballot or message.revision != rnd.entry.revision:
            return
        if message.digest != rnd.entry.digest:
            self._evidence(
                message.sender, "vote_for_unproposed", "voted for a digest never proposed"
            )
            return
        if message.sender in rnd.responded:
            return
        if isinstance(message, PrepareOk):
            if message.fast != rnd.fast:
                return
            rnd.oks[message.sender] = message
        elif self._reject_counts(rnd, message):
            rnd.rejects[message.sender] = message
        else:
            rnd.ignored.add(message.sender)
        self._advance_prepare()

    def _reject_counts(self, rnd: CoordinatorRound, reject: PrepareReject) -> bool:
        """Whether a PREPARE_REJECT may abort the round (evidence if it is a lie)."""
        if reject.kind == "invalid":
            verdict = self._validate(rnd.entry.document, self._head_document())
            if verdict.ok or verdict.kind != "invalid":
                self._evidence(
                    reject.sender,
                    "false_reject",
                    f"cited a validation error the coordinator does not reproduce: {reject.reason}",
                )
                return False
            return True
        if rnd.forced:
            return False
        self._evidence(
            reject.sender, "unverifiable_veto", f"vetoed: {reject.reason}", critical=False
        )
        return True

    def _advance_prepare(self) -> None:
        rnd = self._round
        if rnd is None or rnd.phase != "prepare":
            return
        n, q = self._params.n, self._params.quorum
        if rnd.rejects:
            self._abort(rnd, "; ".join(f"{m}: {r.reason}" for m, r in sorted(rnd.rejects.items())))
            return
        if rnd.fast and len(rnd.oks) == n:
            votes = tuple(rnd.oks[m] for m in sorted(rnd.oks))
            view, attempt = rnd.ballot
            cert = CommitCertificate(view, attempt, rnd.entry.revision, rnd.entry.digest, (), votes)
            self._finalize(rnd.entry, cert)
            return
        timed_out = self._now >= rnd.started_ms + self._params.scaled(
            self._params.prepare_timeout_ms
        )
        stragglers_down = all(
            m in self._unresponsive for m in self._params.member_ids if m not in rnd.responded
        )
        if len(rnd.oks) >= q and (len(rnd.responded) == n or timed_out or stragglers_down):
            self._start_commit(rnd)
            return
        if len(rnd.oks) + (n - len(rnd.responded)) < q:
            self._abort(rnd, "a quorum of PREPARE_OK can no longer be reached")
        elif timed_out:
            self._abort(rnd, "prepare timeout")

    def _start_commit(self, rnd: CoordinatorRound) -> None:
        view, attempt = rnd.ballot
        votes = tuple(rnd.oks[m] for m in sorted(rnd.oks))
        cert = PrepareCertificate(view, attempt, rnd.entry.revision, rnd.entry.digest, votes)
        rnd.phase = "commit"
        rnd.certificate = cert
        rnd.commit_started_ms = self._now
        rnd.next_resend_ms = self._now + self._resend_interval(self._params.commit_timeout_ms)
        request = CommitRequest(
            *self._header(rnd.entry.revision, rnd.ballot), certificate=cert, entry=rnd.entry
        )
        self._broadcast(self._sign(request), include_self=True)

    def _on_commit_vote(self, message: CommitVote) -> None:
        if not self._check_equivocation("commit", message, message.digest):
            return
        rnd = self._round
        if rnd is None or rnd.phase != "commit" or message.ballot != rnd.ballot:
            return
        if message.revision != rnd.entry.revision:
            return
        if message.digest != rnd.entry.digest:
            self._evidence(
                message.sender, "vote_for_unproposed", "commit vote for an uncertified digest"
            )
            return
        rnd.commit_votes[message.sender] = message
        if len(rnd.commit_votes) >= self._params.quorum:
            view, attempt = rnd.ballot
            votes = tuple(rnd.commit_votes[m] for m in sorted(rnd.commit_votes))
            cert = CommitCertificate(view, attempt, rnd.entry.revision, rnd.entry.digest, votes, ())
            self._finalize(rnd.entry, cert)

    def _finalize(self, entry: Entry, cert: CommitCertificate) -> None:
        decided = Decided(entry, cert)
        finalize = self._sign(Finalize(*self._header(entry.revision, cert.ballot), decided=decided))
        assert isinstance(finalize, Finalize)
        self._round = None
        self._broadcast(finalize, first=entry.origin)  # its client waits for its answer
        self._apply(decided)
        self._finalize_resend = FinalizeResend(
            finalize,
            acked={self._id},
            next_ms=self._now + self._resend_interval(self._params.commit_timeout_ms),
            remaining=FINALIZE_RESENDS,
        )
        self._try_start()

    def _abort(self, rnd: CoordinatorRound, reason: str) -> None:
        """Coordinator: give up the ballot (only before a prepare certificate)."""
        assert rnd.phase == "prepare"
        self._round = None
        abort = Abort(
            *self._header(rnd.entry.revision, rnd.ballot),
            digest=rnd.entry.digest,
            request_id=rnd.entry.request_id,
            origin=rnd.entry.origin,
            reason=reason,
            rejects=tuple(rnd.rejects[m] for m in sorted(rnd.rejects)),
        )
        self._open_ballot(self._sign(abort))

    def _reballot(self, reason: str) -> None:
        """Coordinator: move to the next attempt without a round (e.g. after a restart)."""
        digest = (
            self._proposal.digest
            if self._proposal_ballot == self.ballot and (self._proposal is not None)
            else ""
        )
        request_id = self._proposal.request_id if digest and self._proposal else ""
        origin = self._proposal.origin if digest and self._proposal else ""
        abort = Abort(
            *self._header(self.head_revision + 1),
            digest=digest,
            request_id=request_id,
            origin=origin,
            reason=reason,
            rejects=(),
        )
        self._open_ballot(self._sign(abort))

    def _open_ballot(self, abort: Abort) -> None:
        target = (abort.view, abort.attempt + 1)
        self._collections[target] = Collection(
            target,
            abort=abort,
            next_resend_ms=self._now + self._resend_interval(self._params.pre_prepare_timeout_ms),
        )
        self._broadcast(abort, include_self=True)

    def _on_config_applied(self, message: ConfigApplied) -> None:
        resend = self._finalize_resend
        if (
            resend is None
            or message.revision != resend.message.revision
            or message.digest != resend.message.decided.entry.digest
            or message.sender in resend.acked
        ):
            return
        # its signature is checked only if a re-send falls due before the next commit
        # replaces this one: usually never. A second answer in the same name settles
        # the first, so a forgery sent after the genuine one cannot displace it.
        earlier = resend.unchecked.get(message.sender)
        if earlier is not None and self._verifier.message_problem(earlier) is None:
            resend.acked.add(message.sender)
            del resend.unchecked[message.sender]
        else:
            resend.unchecked[message.sender] = message

    def _tick_coordinator(self) -> None:
        rnd = self._round
        if rnd is not None:
            if rnd.phase == "prepare":
                self._advance_prepare()
            if self._round is rnd and self._now >= rnd.next_resend_ms:
                self._resend_round(rnd)
        for collection in list(self._collections.values()):
            self._advance_collection(collection)
            if collection.abort is not None and self._now >= collection.next_resend_ms:
                collection.next_resend_ms = self._now + self._resend_interval(
                    self._params.pre_prepare_timeout_ms
                )
                for member in self._params.member_ids:
                    if member not in collection.reports and member != self._id:
                        self._send(member, collection.abort)
        resend = self._finalize_resend
        if resend is not None and self._now >= resend.next_ms:
            for member in self._params.member_ids:
                ack = resend.unchecked.pop(member, None)
                if ack is not None and self._verifier.message_problem(ack) is None:
                    resend.acked.add(member)
                if member not in resend.acked:
                    self._send(member, resend.message)
            resend.remaining -= 1
            resend.next_ms = self._now + self._resend_interval(self._params.commit_timeout_ms)
            if resend.remaining <= 0 or len(resend.acked) == self._params.n:
                self._finalize_resend = None

    def _resend_round(self, rnd: CoordinatorRound) -> None:
        if rnd.phase == "prepare":
            rnd.next_resend_ms = self._now + self._resend_interval(self._params.prepare_timeout_ms)
            proposed = self._proposals_seen.get(rnd.ballot)
            if proposed is None:
                return
            message: Message = proposed
            missing = [m for m in self._params.member_ids if m not in rnd.responded]
        else:
            rnd.next_resend_ms = self._now + self._resend_interval(self._params.commit_timeout_ms)
            assert rnd.certificate is not None
            message = self._sign(
                CommitRequest(
                    *self._header(rnd.entry.revision, rnd.ballot),
                    certificate=rnd.certificate,
                    entry=rnd.entry,
                )
            )
            missing = [m for m in self._params.member_ids if m not in rnd.commit_votes]
        for member in missing:
            if member != self._id:
                self._send(member, message)

    # ================================================================ member side

    def _vote_active(self) -> bool:
        vote = self._vote
        return vote is not None and (vote.view, vote.attempt) == (self._view, self._attempt)

    def _on_propose(self, message: Propose) -> None:
        entry = message.entry
        if message.sender != self._params.coordinator_of(message.view):
            return
        if not self._check_equivocation("propose", message, entry.digest):
            return
        if entry.revision != message.revision:
            self._evidence(message.sender, "invalid_proposal", "entry revision mismatch")
            return
        if message.revision <= self.head_revision:
            return
        if message.revision > self.head_revision + 1:
            self._fetch_from(message.sender)
            return
        problem = self._verifier.entry_problem(entry)
        if problem is not None:
            self._evidence(message.sender, "invalid_proposal", problem)
            return
        if entry.parent_digest != self.head.entry.digest:
            self._evidence(
                message.sender,
                "invalid_proposal",
                f"parent digest of revision {entry.revision} is not the committed head",
            )
            return
        ballot = message.ballot
        if ballot < (self._view, self._attempt):
            return
        if message.fast != (self._params.protocol == "optimistic_pbft"):
            return
        earlier = self._responses.get(ballot)
        if earlier is not None and self._vote is not None and self._vote.revision == entry.revision:
            self._send(message.sender, earlier)
            return
        if self._vote is not None and (self._vote.view, self._vote.attempt) == ballot:
            if self._vote.digest == entry.digest and self._vote.ok:
                self._respond_ok(message, entry)
            return
        selection = self._check_justification(message)
        if selection is None:
            return
        if selection.kind == "forced":
            assert selection.entry is not None
            if selection.entry.digest != entry.digest:
                self._evidence(
                    message.sender,
                    "bad_justification",
                    "proposal ignores the entry its own reports force",
                )
                return
        lock = self._lock
        if (
            lock is not None
            and lock.digest != entry.digest
            and (selection.kind != "forced" or selection.basis < lock.ballot)
        ):
            return  # locked on a higher certificate: refuse silently
        self._proposals_seen[ballot] = message
        self._adopt_ballot(ballot, establishes=bool(message.justification))
        verdict = self._validate(entry.document, self._head_document())
        forced = selection.kind == "forced"
        if verdict.ok or (forced and verdict.kind == "veto"):
            self._respond_ok(message, entry)
        else:
            if verdict.kind == "invalid" and not forced:
                # the coordinator must validate before proposing, and validation is
                # deterministic: proposing an invalid document proves it faulty
                self._evidence(message.sender, "invalid_proposal", verdict.reason)
            reject = PrepareReject(
                *self._header(entry.revision, ballot),
                digest=entry.digest,
                kind=verdict.kind or "invalid",
                reason=verdict.reason,
            )
            self._vote = VoteRecord(
                ballot[0], ballot[1], entry.revision, entry.digest, False, message.fast, entry
            )
            self._touch()
            signed = self._sign(reject)
            self._responses[ballot] = signed
            self._send(message.sender, signed)

    def _respond_ok(self, message: Propose, entry: Entry) -> None:
        ballot = message.ballot
        record = VoteRecord(
            ballot[0], ballot[1], entry.revision, entry.digest, True, message.fast, entry
        )
        self._vote = record
        self._reportable = (*self._reportable, record)[-REPORTABLE_VOTES:]
        self._touch()
        ok = self._sign(
            PrepareOk(*self._header(entry.revision, ballot), entry.digest, message.fast)
        )
        self._responses[ballot] = ok
        self._send(message.sender, ok)

    def _check_justification(self, message: Propose) -> Selection | None:
        """The selection the proposal's reports allow, or None if they are invalid."""
        ballot = message.ballot
        if ballot == (0, 0):
            if message.justification:
                self._evidence(message.sender, "bad_justification", "reports for ballot (0, 0)")
                return None
            return Selection("free")
        problem = reports_problem(self._verifier, message.justification, ballot, message.revision)
        if problem is not None:
            self._evidence(message.sender, "bad_justification", problem)
            return None
        selection = select(message.justification, message.revision, self._params.f)
        if selection.kind == "stale":
            return None
        return selection

    def _adopt_ballot(self, ballot: Ballot, establishes: bool) -> None:
        """Raise the promise to `ballot`; a justified ballot also ends a view change."""
        if ballot > (self._view, self._attempt):
            new_view = ballot[0] > self._view
            self._view, self._attempt = ballot
            self._touch()
            if new_view:
                self._established = False
        if establishes and not self._established and ballot[0] == self._view:
            self._established = True
            self._last_established_view = self._view
            self._vc_failed_reported = False
            self._last_progress = self._now
            self._events.append(ViewChanged(self._view, self.coordinator))

    def _on_commit_request(self, message: CommitRequest) -> None:
        cert = message.certificate
        entry = message.entry
        if message.sender != self._params.coordinator_of(message.view):
            return
        if message.revision <= self.head_revision:
            return
        if message.revision > self.head_revision + 1:
            self._fetch_from(message.sender)
            return
        if (cert.view, cert.attempt, cert.revision) != (
            message.view,
            message.attempt,
            message.revision,
        ):
            self._evidence(message.sender, "bad_certificate", "certificate for another ballot")
            return
        problem = self._verifier.prepare_certificate_problem(cert) or self._verifier.entry_problem(
            entry
        )
        if problem is None and entry.digest != cert.digest:
            problem = "entry does not match the certificate"
        if problem is None and entry.parent_digest != self.head.entry.digest:
            problem = "certified entry does not chain to the committed head"
        if problem is not None:
            self._evidence(message.sender, "bad_certificate", problem)
            return
        if self._lock is None or cert.ballot > self._lock.ballot:
            self._lock = cert
            self._lock_entry = entry
            self._touch()
        ballot = cert.ballot
        if ballot < (self._view, self._attempt):
            return
        voted = self._commit_vote
        if voted is not None and (voted.view, voted.attempt) == ballot:
            if voted.digest != cert.digest:
                return
        else:
            self._commit_vote = CommitVoteRecord(ballot[0], ballot[1], cert.revision, cert.digest)
            self._adopt_ballot(ballot, establishes=True)
            self._touch()
        vote = CommitVote(*self._header(cert.revision, ballot), digest=cert.digest)
        self._send(message.sender, self._sign(vote))

    def _on_finalize(self, message: Finalize) -> None:
        """Apply a decided revision. Its certificate is what makes it applicable, so the
        sender's signature is checked only on the paths that trust the sender: a reply to
        a repeat, a fetch from it, evidence against it."""
        decided = message.decided
        revision = decided.entry.revision
        if revision == self.head_revision + 1:
            problem = self._verifier.decided_problem(decided)
            if problem is None and decided.entry.parent_digest != self.head.entry.digest:
                problem = "decided entry does not chain to the committed head"
            if problem is None:
                self._apply(decided)
                self._send_applied(message)
            elif self._verifier.message_problem(message) is None:
                self._evidence(message.sender, "bad_certificate", problem)
            return
        if self._verifier.message_problem(message) is not None:
            return
        if revision <= self.head_revision:
            if self._digests[revision] == decided.entry.digest:
                self._send_applied(message)
            return
        self._fetch_from(message.sender)

    def _send_applied(self, finalize: Finalize) -> None:
        """CONFIG_APPLIED: tells the coordinator it need not send this FINALIZE again."""
        entry = finalize.decided.entry
        applied = ConfigApplied(*self._header(entry.revision, finalize.ballot), digest=entry.digest)
        self._send(finalize.sender, self._sign(applied))

    def _on_abort(self, message: Abort) -> None:
        if message.sender != self._params.coordinator_of(message.view):
            return
        if message.revision != self.head_revision + 1:
            if message.revision > self.head_revision + 1:
                self._fetch_from(message.sender)
            return
        definitive = self._verifier.abort_is_definitive(message)
        if message.origin == self._id and message.request_id in self._own:
            self._report_abort(message, definitive)
        if self._held_request is not None and self._held_request.request_id == message.request_id:
            self._held_request = None
        target = (message.view, message.attempt + 1)
        if target < (self._view, self._attempt):
            return
        if definitive:
            kept = tuple(v for v in self._reportable if (v.view, v.attempt) != message.ballot)
            if kept != self._reportable:
                self._reportable = kept
                self._touch()
        if self._voted_at_or_after(target):
            # a late copy: that ballot was established here already (this member voted
            # in it), so this is no progress, and a report for it would be invalid
            return
        self._adopt_ballot(target, establishes=False)
        if self._abort_is_verifiable(message):
            # an ABORT with no checkable reason is not progress: a coordinator
            # that aborts everything must not keep its view forever
            self._last_progress = self._now
        self._send(message.sender, self._report(target))

    def _report_abort(self, abort: Abort, definitive: bool) -> None:
        """Origin: tell the node its request was aborted, and whether that is final.

        Vetoes by fewer than f members (f >= 2) on the fast path are not: the abort
        does not rule out a fast-path decision, so the next ballot must re-propose
        the entry, and it commits over the veto. The request stays tracked until then.
        (Without the fast path nothing is forced but a lock, which an abort precedes.)
        """
        rejected_by = tuple(r.sender for r in abort.rejects)
        vetoed = bool(abort.rejects) and all(r.kind == "veto" for r in abort.rejects)
        fast = self._params.protocol == "optimistic_pbft"
        final = definitive or not vetoed or not fast
        if final:
            del self._own[abort.request_id]
        self._events.append(ProposalAborted(abort.request_id, abort.reason, rejected_by, final))

    def _voted_at_or_after(self, ballot: Ballot) -> bool:
        """Whether this member voted, or locked, in `ballot` or a later one for the pending
        revision: a report for `ballot` must show only what came before it."""
        if self._lock is not None and self._lock.ballot >= ballot:
            return True
        return any((v.view, v.attempt) >= ballot for v in self._reportable)

    def _abort_is_verifiable(self, abort: Abort) -> bool:
        """True when the ABORT carries a correctly signed reject of its ballot by a member
        other than its coordinator (a coordinator's reject of its own proposal proves
        nothing: with it, a coordinator could abort every ballot and keep its view)."""
        return any(
            reject.sender != abort.sender
            and reject.ballot == abort.ballot
            and reject.revision == abort.revision
            and reject.digest == abort.digest
            and self._verifier.message_problem(reject) is None
            for reject in abort.rejects
        )

    def _apply(self, decided: Decided) -> None:
        """Commit the next revision: log it, hand it out, reset per-revision state."""
        self._remember_decided(decided)
        self._committed_out.append(decided)
        entry = decided.entry
        self._vote = None
        self._reportable = ()
        self._commit_vote = None
        self._lock = None
        self._lock_entry = None
        self._proposal = None
        self._proposal_ballot = (-1, -1)
        self._attempt = 0
        self._ballot_reports = self._view_reports
        self._responses.clear()
        self._proposals_seen.clear()
        self._seen = {k: v for k, v in self._seen.items() if k[4] > entry.revision - SEEN_REVISIONS}
        self._collections.clear()
        self._round = None
        self._last_progress = self._now
        self._vc_round = 0
        self._touch()
        if entry.origin == self._id and entry.request_id:
            # also after an abort or timeout was reported: the entry did commit
            self._own.pop(entry.request_id, None)
            self._events.append(ProposalCommitted(entry.request_id, entry.revision, entry.digest))
        self._end_requests_overtaken(entry)
        # a commit shows the coordinator at work: stop holding a broadcast request
        # (its origin still tracks it until an outcome or its deadline)
        self._held_request = None
        if self._queued is not None and self._queued.request_id == entry.request_id:
            self._queued = None
        cert = decided.certificate
        if cert is not None:
            for vote in cert.commit_votes or cert.fast_votes:
                if self._reputation.reward(vote.sender):
                    self._reputation_changed(vote.sender)

    def _end_requests_overtaken(self, entry: Entry) -> None:
        """Answer this member's requests for `entry`'s revision that `entry` is not.

        A request commits as the revision it was made for or never, so once another
        entry has that revision nothing can apply it any more: a refusal held back
        (busy, copies out) is given now, and any other such request is stale.
        """
        for request_id, own in list(self._own.items()):
            if own.request.revision != entry.revision or request_id == entry.request_id:
                continue
            del self._own[request_id]
            kind, reason = own.refusal or ("stale", (
                f"revision {entry.revision} was decided for another update meanwhile"))
            self._events.append(ProposalRefused(request_id, kind, reason))

    # ================================================================ view change

    def _report(self, target: Ballot) -> ViewChange:
        """This member's signed VIEW_CHANGE report for `target`."""
        vote = max(self._reportable, key=lambda v: (v.view, v.attempt), default=None)
        report = ViewChange(
            *self._header(self.head_revision + 1, target),
            head=self.head,
            lock=self._lock,
            lock_entry=self._lock_entry,
            vote_view=vote.view if vote else -1,
            vote_attempt=vote.attempt if vote else -1,
            vote_fast=vote.fast if vote else False,
            vote_entry=vote.entry if vote else None,
        )
        return self._sign(report)

    def _vc_timeout(self) -> int:
        p = self._params
        rounds = min(self._vc_round, p.max_view_change_attempts)
        return int(p.scaled(p.view_change_timeout_ms) * p.backoff_multiplier**rounds)

    def _work_pending(self) -> bool:
        return bool(
            not self._established
            or self._own
            or self._held_request is not None
            or self._queued is not None
            or self._collections
            or self._vote_active()
            or self._lock is not None
            or self._round is not None
        )

    def _tick_progress(self) -> None:
        if not self._work_pending():
            self._last_progress = self._now
            if self._established:
                # an established view with nothing left to do is healthy: the back-off
                # restarts, as after a commit (commits are rare here, and a back-off
                # grown by old view changes would outlast every request's deadline)
                self._vc_round = 0
            return
        if self._now - self._last_progress >= self._vc_timeout():
            exhausted = self._vc_round >= self._params.max_view_change_attempts
            if not self._established and exhausted and not self._vc_failed_reported:
                self._vc_failed_reported = True
                self._events.append(ViewChangeFailed(self._view, self._vc_round))
            if self._established or self._view_change_supported():
                self._start_view_change(self._view + 1)
            else:
                # Alone in this view change: stay in the view (so the member rejoins
                # when the others move) and keep asking, at the growing back-off.
                self._vc_round += 1
                self._last_progress = self._now
                self._repeat_report()
        elif not self._established and self._now >= self._next_vc_resend:
            self._next_vc_resend = self._now + max(1, self._vc_timeout() // 4)
            self._repeat_report()

    def _repeat_report(self) -> None:
        """Ask again for the view this member waits to see established.

        The report is for (view, 0), unless this member has voted or locked in the
        view already (an ABORT can overtake the NEW_VIEW it follows, and a lock can
        come from a lower ballot's COMMIT): a report for (view, 0) would then show
        a vote or lock not below its ballot, which is invalid. It repeats the
        report for its current ballot instead, which shows them.
        """
        for target in ((self._view, 0), (self._view, self._attempt)):
            if not self._voted_at_or_after(target):
                self._broadcast(self._report(target), include_self=True)
                return

    def _view_change_supported(self) -> bool:
        """PBFT's rule: move past view v only after q members asked for view v."""
        supporters = sum(1 for v in self._vc_seen.values() if v >= self._view)
        return supporters >= self._params.quorum

    def _start_view_change(self, view: int) -> None:
        if view <= self._view and not (view == self._view and not self._established):
            return
        self._view, self._attempt = view, 0
        self._established = False
        self._vc_round += 1
        self._last_progress = self._now
        self._next_vc_resend = self._now + max(1, self._vc_timeout() // 4)
        self._round = None
        self._view_reports = None
        self._ballot_reports = None
        self._touch()
        self._broadcast(self._report((view, 0)), include_self=True)

    def _on_view_change(self, message: ViewChange) -> None:
        target = message.ballot
        if report_problem(self._verifier, message, target) is not None:
            return
        if message.revision > self.head_revision + 1:
            self._fetch_from(message.sender)
        if target[1] == 0:
            self._vc_seen[message.sender] = max(self._vc_seen.get(message.sender, 0), target[0])
        if target[1] == 0 and target[0] > self._view:
            higher = sorted(v for v in self._vc_seen.values() if v > self._view)
            if len(higher) >= self._params.f + 1:
                self._start_view_change(higher[0])
        if self._params.coordinator_of(target[0]) != self._id:
            return
        if target[1] > 0 and message.revision != self.head_revision + 1:
            return  # a re-ballot's reports must be of the revision it re-ballots
        collection = self._collections.get(target)
        if collection is None:
            current = (self._view, self._attempt)
            if target <= current and self._established:
                if target[0] == self._view:
                    self._resend_new_view(message.sender)
                return
            if target < current or target[1] != 0:
                return  # re-ballots are opened by this coordinator's own ABORT
            collection = Collection(target)
            self._collections[target] = collection
        collection.reports[message.sender] = message
        self._advance_collection(collection)

    def _advance_collection(self, collection: Collection) -> None:
        """Coordinator: establish the target ballot once enough reports are in."""
        count = len(collection.reports)
        if count < self._params.quorum:
            return
        if collection.quorum_at_ms is None:
            collection.quorum_at_ms = self._now
        waited = self._now - collection.quorum_at_ms
        isolated = sum(1 for m in self._params.member_ids if self._reputation.is_isolated(m))
        if count < self._params.n - isolated and waited < self._params.scaled(
            self._params.pre_prepare_timeout_ms
        ):
            return
        target = collection.target
        if target < (self._view, self._attempt):
            self._collections.pop(target, None)
            return
        reports = tuple(collection.reports[m] for m in sorted(collection.reports))
        self._collections.pop(target, None)
        self._ballot_reports = reports
        if target[1] == 0:
            self._view_reports = reports
        new_view = NewView(*self._header(self.head_revision + 1, target), reports=reports)
        self._broadcast(self._sign(new_view))
        self._view, self._attempt = target
        self._touch()
        if not self._established or target[1] == 0:
            was_established = self._established
            self._established = True
            self._last_established_view = self._view
            self._vc_failed_reported = False
            self._last_progress = self._now
            if not was_established:
                self._events.append(ViewChanged(self._view, self._id))
        if self._queued is None and self._held_request is not None:
            self._queued, self._held_request = self._held_request, None
        if self._queued is None and self._own:
            self._queued = next(iter(self._own.values())).request
        self._try_start()

    def _resend_new_view(self, member: str) -> None:
        """The NEW_VIEW of the last ballot this coordinator established, for a member
        that missed it. Its ballot is the reports' ballot, not the current one: after
        an ABORT the coordinator is already in the next attempt while it gathers that
        attempt's reports, and a NEW_VIEW naming it with the older reports would be
        invalid, i.e. evidence against an honest coordinator (found by the simulator's
        "no false evidence" invariant)."""
        reports = self._ballot_reports
        if reports:
            new_view = NewView(*self._header(self.head_revision + 1, reports[0].ballot),
                               reports=reports)
            self._send(member, self._sign(new_view))

    def _on_new_view(self, message: NewView) -> None:
        if message.sender != self._params.coordinator_of(message.view):
            return
        ballot = message.ballot
        if ballot < (self._view, self._attempt):
            return
        if ballot[1] > 0 and message.revision != self.head_revision + 1:
            # a re-ballot of another revision: a replay, or news of revisions not here yet
            if message.revision > self.head_revision + 1:
                self._fetch_from(message.sender)
            return
        if reports_problem(self._verifier, message.reports, ballot, message.revision) is not None:
            self._evidence(message.sender, "bad_justification", "NEW_VIEW with invalid reports")
            return
        before = (self._view, self._attempt, self._established)
        self._adopt_ballot(ballot, establishes=True)
        if (self._view, self._attempt, self._established) != before:
            # only a NEW_VIEW that moves this member on is progress: one repeated
            # by a coordinator that does nothing else must not keep it in office
            self._last_progress = self._now

    # ================================================================ catch-up

    def _fetch_from(self, peer: str) -> None:
        if self._now < self._fetch_blocked_until or peer == self._id:
            return
        self._fetch_blocked_until = self._now + self._params.status_interval_ms
        self._send(peer, self._sign(Fetch(*self._header(self.head_revision))))

    def _tick_status(self) -> None:
        if self._now < self._next_status:
            return
        self._next_status = self._now + self._params.status_interval_ms
        status = Status(*self._header(self.head_revision), head_digest=self.head.entry.digest)
        self._broadcast(self._sign(status))

    def _on_status(self, message: Status) -> None:
        if message.revision > self.head_revision:
            self._fetch_from(message.sender)
        elif self._digests[message.revision] != message.head_digest:
            self._evidence(
                message.sender,
                "divergent_head",
                f"claims digest {message.head_digest[:16]} for revision {message.revision}, "
                f"committed here as {self._digests[message.revision][:16]}",
            )

    def _on_fetch(self, message: Fetch) -> None:
        """Serve the next batch of decided revisions to a peer catching up.

        A FETCH is small and its reply up to FETCH_BATCH revisions with their
        certificates (hundreds of KiB, milliseconds to encode and sign): a batch
        the peer was already served is served again only after
        `status_interval_ms`, so repeating one FETCH cannot make this replica
        spend its time and bandwidth for a faulty member. A peer making progress
        (asking for later revisions) is served at once.
        """
        start = message.revision + 1
        if start > self.head_revision:
            return
        served = self._fetch_served.get(message.sender)
        if (served is not None and start <= served[0]
                and self._now - served[1] < self._params.status_interval_ms):
            return
        self._fetch_served[message.sender] = (start, self._now)
        batch = self._decided_from(start, FETCH_BATCH)
        if not batch:
            return
        reply = FetchReply(*self._header(self.head_revision), decided=batch)
        self._send(message.sender, self._sign(reply))

    def _on_fetch_reply(self, message: FetchReply) -> None:
        first = self.head_revision + 1
        for decided in message.decided:
            revision = decided.entry.revision
            if revision <= self.head_revision:
                continue
            if revision != self.head_revision + 1:
                break
            problem = self._verifier.decided_problem(decided)
            if problem is None and decided.entry.parent_digest != self.head.entry.digest:
                problem = "fetched revision does not chain to the previous one"
            if problem is not None:
                self._evidence(message.sender, "bad_certificate", f"FETCH_REPLY: {problem}")
                break
            self._apply(decided)
        if self.head_revision >= first:
            self._events.append(CaughtUp(message.sender, first, self.head_revision))
            self._try_start()
        if message.revision > self.head_revision:
            self._fetch_blocked_until = -1
            self._fetch_from(message.sender)

    # ================================================================ timers of own requests

    def _tick_own_requests(self) -> None:
        if self._held_request is not None and self._now >= self._held_until:
            self._held_request = None
        for request_id, own in list(self._own.items()):
            if self._now >= own.outcome_deadline_ms:
                del self._own[request_id]
                self._events.append(
                    ProposalAborted(
                        request_id,
                        f"no outcome within {self._outcome_timeout()} ms (no quorum or no "
                        "coordinator reachable); the change may still commit later",
                    )
                )
            elif not own.resent and self._now >= own.forward_deadline_ms:
                own.broadcast = own.resent = True
                if self._round is None or self._round.entry.request_id != request_id:
                    self._broadcast(self._forward_message(own.request))


_HANDLERS: dict[type[SignedMessage], Callable[[Replica, Message], None]] = {
    Propose: Replica._on_propose,  # type: ignore[dict-item]
    PrepareOk: Replica._on_prepare_response,  # type: ignore[dict-item]
    PrepareReject: Replica._on_prepare_response,  # type: ignore[dict-item]
    CommitRequest: Replica._on_commit_request,  # type: ignore[dict-item]
    CommitVote: Replica._on_commit_vote,  # type: ignore[dict-item]
    Finalize: Replica._on_finalize,  # type: ignore[dict-item]
    ConfigApplied: Replica._on_config_applied,  # type: ignore[dict-item]
    Abort: Replica._on_abort,  # type: ignore[dict-item]
    ViewChange: Replica._on_view_change,  # type: ignore[dict-item]
    NewView: Replica._on_new_view,  # type: ignore[dict-item]
    Forward: Replica._on_forward,  # type: ignore[dict-item]
    Refuse: Replica._on_refuse,  # type: ignore[dict-item]
    Status: Replica._on_status,  # type: ignore[dict-item]
    Fetch: Replica._on_fetch,  # type: ignore[dict-item]
    FetchReply: Replica._on_fetch_reply,  # type: ignore[dict-item]
}
