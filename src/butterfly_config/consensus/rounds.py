"""Soft (not persisted) bookkeeping records of a replica.

Kept apart from replica.py so the state machine reads as transitions, not
as field declarations. Nothing here is needed for safety after a restart:
what is needed lives in state.HardState.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from butterfly_config.consensus.messages import (
    Abort,
    Ballot,
    CommitVote,
    ConfigApplied,
    Entry,
    Finalize,
    PrepareCertificate,
    PrepareOk,
    PrepareReject,
    RefuseKind,
    ViewChange,
)

Phase = Literal["prepare", "commit"]


@dataclass(slots=True)
class ClientRequest:
    """A client's proposal waiting for (or handled by) the coordinator."""

    request_id: str
    origin: str
    initiator: str
    document: bytes
    revision: int
    """The revision the request means to become: one past the head its document was
    built on. The coordinator proposes it only as exactly that revision, so a change
    built on an older head never overwrites the revisions committed since."""


@dataclass(slots=True)
class CoordinatorRound:
    """The coordinator's view of one ballot it proposed in.

    Transitions: prepare -> commit (prepare certificate) -> decided, or
    prepare -> decided (fast certificate), or prepare -> aborted.
    """

    ballot: Ballot
    entry: Entry
    forced: bool
    fast: bool
    started_ms: int
    next_resend_ms: int
    phase: Phase = "prepare"
    oks: dict[str, PrepareOk] = field(default_factory=dict)
    rejects: dict[str, PrepareReject] = field(default_factory=dict)
    ignored: set[str] = field(default_factory=set)
    certificate: PrepareCertificate | None = None
    commit_started_ms: int = 0
    commit_votes: dict[str, CommitVote] = field(default_factory=dict)

    @property
    def responded(self) -> set[str]:
        return set(self.oks) | set(self.rejects) | self.ignored


@dataclass(slots=True)
class Collection:
    """VIEW_CHANGE reports the coordinator gathers for one target ballot."""

    target: Ballot
    reports: dict[str, ViewChange] = field(default_factory=dict)
    quorum_at_ms: int | None = None
    abort: Abort | None = None
    """The ABORT that opened this ballot (re-sent to members that did not report)."""
    next_resend_ms: int = 0


@dataclass(slots=True)
class OwnRequest:
    """A proposal made on this replica, tracked until its outcome is known."""

    request: ClientRequest
    forward_deadline_ms: int
    outcome_deadline_ms: int
    broadcast: bool = False
    """It went to every member (at once from a member in a view change): other
    members may hold it and propose it, so a refusal as busy is not final."""
    resent: bool = False
    """Sent to every member at the forward deadline (once)."""
    refusal: tuple[RefuseKind, str] | None = None
    """A busy refusal held back while copies are out (see `broadcast`): it becomes the
    answer once another entry takes the request's revision, which the request can
    then never become."""


@dataclass(slots=True)
class FinalizeResend:
    """The coordinator re-sends FINALIZE to members that did not confirm it."""

    message: Finalize
    acked: set[str]
    next_ms: int
    remaining: int
    # CONFIG_APPLIED answers not yet checked: a member counts as acked only once its
    # signature is, which is left until a re-send is due
    unchecked: dict[str, ConfigApplied] = field(default_factory=dict)
