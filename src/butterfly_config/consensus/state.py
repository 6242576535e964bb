"""What a replica hands to its caller: Ready batches, events, persisted state.

The caller's loop, as in etcd raft:
    rd = replica.ready()
    1. persist rd.committed (history) and rd.hard_state, durably, in that order;
    2. send rd.messages;
    3. apply rd.committed to the running configuration, handle rd.events;
    4. replica.advance(rd).
Persisting before sending is what keeps "one digest per ballot and revision"
true across crashes: a vote or lock is in hard_state before the message that
carries it leaves the node.

One exception: messages for which `precedes_write` holds (FINALIZE) may be
sent before step 1, since they prove a decision with a quorum's signatures and
promise nothing of their sender. A caller that sends them first must finish
steps 1-4 before it steps anything else. A crash in between loses only the
sender's own copy of the revision, which it fetches back from its peers.

Messages for which `follows_apply` holds (CONFIG_APPLIED) say that their
sender applied a revision, so they belong after step 3, as the contract orders
it: a member applies, notifies its subscribers and then answers CONFIG_APPLIED.
Sending one at step 2 is safe too (the revision is durable by then, and the
message only spares its sender a re-sent FINALIZE), but it would claim early.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

from butterfly_config.consensus.messages import (
    ConfigApplied,
    Decided,
    Entry,
    Finalize,
    Message,
    PrepareCertificate,
    RefuseKind,
    RejectKind,
)

MemberState = Literal["trusted", "suspect", "isolated"]


@dataclass(frozen=True, slots=True)
class Verdict:
    """The caller's judgement of a proposed document (validation callback result)."""

    ok: bool
    kind: RejectKind | None = None
    reason: str = ""

    @classmethod
    def accept(cls) -> Verdict:
        return cls(True)

    @classmethod
    def invalid(cls, reason: str) -> Verdict:
        """A deterministic validation error: every honest member finds the same."""
        return cls(False, "invalid", reason)

    @classmethod
    def veto(cls, reason: str) -> Verdict:
        """A local subscriber's refusal (cannot be checked by other members)."""
        return cls(False, "veto", reason)


@dataclass(frozen=True, slots=True)
class Outbound:
    """A message to deliver to one member."""

    to: str
    message: Message


def precedes_write(message: Message) -> bool:
    """True for a message that may leave before its batch is durable (module docstring):
    a FINALIZE, whose commit certificate is the whole of its claim."""
    return isinstance(message, Finalize)


def follows_apply(message: Message) -> bool:
    """True for a message that reports its batch's revisions applied (module docstring):
    a CONFIG_APPLIED, sent once they are."""
    return isinstance(message, ConfigApplied)


@dataclass(frozen=True, slots=True)
class VoteRecord:
    """The member's last PREPARE answer for its pending revision."""

    view: int
    attempt: int
    revision: int
    digest: str
    ok: bool
    fast: bool
    entry: Entry


@dataclass(frozen=True, slots=True)
class CommitVoteRecord:
    view: int
    attempt: int
    revision: int
    digest: str


@dataclass(frozen=True, slots=True)
class HardState:
    """Everything that must survive a restart for safety.

    `view`/`attempt` is the member's promise: it takes part in no lower ballot.
    `vote`, `commit_vote` and `lock` refer to the pending revision
    (head_revision + 1) and are cleared when the head moves on. `proposal` is
    what this member proposed as coordinator in its current ballot, so that a
    restarted coordinator never proposes a second entry in the same ballot.
    """

    view: int
    attempt: int
    head_revision: int
    head_digest: str
    vote: VoteRecord | None = None
    commit_vote: CommitVoteRecord | None = None
    lock: PrepareCertificate | None = None
    lock_entry: Entry | None = None
    proposal: Entry | None = None
    proposal_view: int = -1
    proposal_attempt: int = -1
    reputation: tuple[tuple[str, float], ...] = ()
    reportable: tuple[VoteRecord, ...] = ()
    """PREPARE_OK votes for the pending revision not definitively aborted
    (the highest-ballot one goes into VIEW_CHANGE reports)."""


# ---------------------------------------------------------------- events


@dataclass(frozen=True, slots=True)
class ProposalCommitted:
    """A proposal made on this replica was committed."""

    request_id: str
    revision: int
    digest: str


@dataclass(frozen=True, slots=True)
class ProposalAborted:
    """A proposal made on this replica was aborted; nothing was applied."""

    request_id: str
    reason: str
    rejected_by: tuple[str, ...] = ()
    final: bool = True
    """False for a veto by fewer than f members on the fast path: such an ABORT does not
    rule out a fast-path decision (the vetoer could have signed OK as well), so the next
    ballot re-proposes the entry and it commits over the veto. The replica keeps waiting
    for the outcome (ProposalCommitted, or ProposalAborted at the outcome deadline)."""


@dataclass(frozen=True, slots=True)
class ProposalRefused:
    """A proposal made on this replica was not started.

    `busy`: another update is in flight (one at a time per cluster);
    `invalid`: the coordinator's validation failed (reason says why);
    `not_ready`: no coordinator is established (view change in progress).
    """

    request_id: str
    kind: RefuseKind
    reason: str


@dataclass(frozen=True, slots=True)
class ViewChanged:
    """This replica entered a view whose coordinator is established."""

    view: int
    coordinator: str


@dataclass(frozen=True, slots=True)
class ViewChangeFailed:
    """max_view_change_attempts view changes in a row did not establish a view.

    The replica keeps trying at the largest back-off, so the cluster recovers
    on its own once enough members can talk again.
    """

    view: int
    attempts: int


@dataclass(frozen=True, slots=True)
class EvidenceFound:
    """A member signed something that proves it misbehaved (or may have)."""

    member: str
    kind: str
    detail: str
    critical: bool = True
    """False only for a veto's small cost (`unverifiable_veto`): honest members veto
    too, and nobody can check a veto. Critical evidence against an honest member is
    a bug (the simulator's "no false evidence" invariant)."""


@dataclass(frozen=True, slots=True)
class ReputationChanged:
    member: str
    score: float
    state: MemberState


@dataclass(frozen=True, slots=True)
class CaughtUp:
    """Revisions fetched from a peer and verified (they are in Ready.committed)."""

    peer: str
    from_revision: int
    to_revision: int


Event: TypeAlias = (
    ProposalCommitted
    | ProposalAborted
    | ProposalRefused
    | ViewChanged
    | ViewChangeFailed
    | EvidenceFound
    | ReputationChanged
    | CaughtUp
)


@dataclass(frozen=True, slots=True)
class Ready:
    """One batch of work for the caller (see the module docstring for the order)."""

    hard_state: HardState | None
    committed: tuple[Decided, ...]
    messages: tuple[Outbound, ...]
    events: tuple[Event, ...]

    def split_messages(self) -> tuple[tuple[Outbound, ...], tuple[Outbound, ...]]:
        """(the messages `precedes_write` lets leave before the batch's write, the rest),
        each in the batch's order."""
        first = tuple(o for o in self.messages if precedes_write(o.message))
        if not first:
            return (), self.messages
        return first, tuple(o for o in self.messages if not precedes_write(o.message))

    @property
    def empty(self) -> bool:
        return (
            self.hard_state is None and not self.committed and not self.messages and not self.events
        )
