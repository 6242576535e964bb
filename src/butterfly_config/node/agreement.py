"""Drives the pure consensus `Replica` inside the node's event loop.

Everything the replica asks for happens here, in the order that keeps it
safe (as etcd's raft asks of its callers): committed revisions and the hard
state are written to SQLite *before* any message of the same batch leaves the
node, then the revisions are applied to the running configuration, then
events are handled (subscribers told, clients answered), then `advance`. A
CONFIG_APPLIED (`follows_apply`) leaves after the apply and the events, since
it says the revision is applied. All calls happen on the loop thread, so the
replica is never entered concurrently.

One kind of message leaves before the batch's write (`Ready.split_messages`): a
FINALIZE. It carries a commit certificate, a quorum's signed votes, and
promises nothing of its sender, so the members can store and apply the
revision while the coordinator writes it too (as etcd's raft lets a leader
send entries while it appends them itself). If the coordinator then crashes,
it fetches the revision from its peers like any member that missed it. The
write follows in the loop's next turn, and any input that comes first (a
message, a tick, a proposal, a flush) has it done before it is stepped, so
the replica never runs ahead of its store.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from butterfly_config.consensus.encoding import DecodeError
from butterfly_config.consensus.messages import Decided, decode_message, encode_message
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import (
    Event,
    HardState,
    Outbound,
    ProposalAborted,
    ProposalCommitted,
    ProposalRefused,
    Ready,
    follows_apply,
)

log = logging.getLogger("butterfly.agreement")


Persist = Callable[[tuple[Decided, ...], HardState | None, tuple[ProposalCommitted, ...]], None]
"""persist(committed, hard_state, own_commits): make the batch durable before it is sent.

`own_commits` are the batch's ProposalCommitted events: which of `committed`
this node originated. Their audit records belong in the revisions' own
transaction, whether or not a client still waits for them."""


def new_request_id(action: str) -> str:
    """A fresh request id; its prefix names the action (see manager.action_of)."""
    return f"{action}-{uuid.uuid4().hex[:16]}"


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a proposal ended, as the proposing node learns it."""

    committed: bool
    revision: int | None = None
    kind: str = ""
    reason: str = ""
    rejected_by: tuple[str, ...] = ()


@dataclass
class DriverStats:
    received: int = 0
    malformed: int = 0
    batches: int = 0
    persisted_revisions: int = 0


@dataclass
class ConsensusDriver:
    """Feeds the replica and carries out its Ready batches."""

    replica: Replica
    persist: Persist
    send: Callable[[str, bytes], None]
    apply: Callable[[Decided], None]
    on_event: Callable[[Event], None]
    clock_ms: Callable[[], int] = field(default=lambda: int(time.monotonic() * 1000))
    stats: DriverStats = field(default_factory=DriverStats)
    on_error: Callable[[Exception], None] | None = None
    """Told what carrying out a batch raised, once: the driver has halted (see `halted`)
    and the node must stop. None: it is logged."""

    def __post_init__(self) -> None:
        self._pending: dict[str, asyncio.Future[Outcome]] = {}
        # the hard state last made durable: an unchanged one is not written again
        # (each write is an fsync'd transaction on the path of the next message)
        self._durable: HardState | None = None
        # a batch whose FINALIZEs are on their way and whose write is still to come: the
        # batch, its other messages, the encodings sent, the loop's call to finish it
        self._writing: tuple[Ready, tuple[Outbound, ...], dict[int, bytes], asyncio.Handle] \
            | None = None
        self._halted = False

    @property
    def halted(self) -> bool:
        """A batch could not be carried out (its write, apply or events failed): nothing
        more is stepped, sent, voted or applied, since the batches after it rest on it."""
        return self._halted

    # -- inputs ---------------------------------------------------------------
    def receive(self, data: bytes) -> None:
        """A peer's bytes: decoded, stepped, and the resulting work carried out."""
        if self._halted:
            return
        self.stats.received += 1
        try:
            message = decode_message(data)
        except (DecodeError, ValueError) as exc:
            self.stats.malformed += 1
            log.debug("dropped a malformed peer message: %s", exc)
            return
        if log.isEnabledFor(logging.DEBUG):
            log.debug("recv %s from %s", type(message).__name__, getattr(message, "sender", "?"))
        self._finish_write()
        self.replica.step(message)
        self.flush()

    def tick(self) -> None:
        if self._halted:
            return
        self._finish_write()
        self.replica.tick(self.clock_ms())
        self.flush()

    def propose(
        self, document: bytes, *, initiator: str, action: str, revision: int | None = None,
        request_id: str | None = None,
    ) -> asyncio.Future[Outcome]:
        """Start a cluster-wide change; the future resolves when it commits or ends.

        `revision`: the one the change must become (one past the head it was built
        on); the coordinator refuses it as `stale` when its head is another.
        `request_id`: the caller's (from `new_request_id`) when it tracks the
        request beyond the future, e.g. to audit a commit that comes after it
        answered its client.
        """
        request_id = request_id or new_request_id(action)
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if self._halted:
            future.set_result(Outcome(False, kind="stopped", reason=(
                "it could not carry out a decided batch and takes no further part in "
                "agreement (see its log)")))
            return future
        self._pending[request_id] = future
        self._finish_write()
        self.replica.propose(request_id, document, initiator, revision)
        self.flush()
        return future

    def forget(self, future: asyncio.Future[Outcome]) -> None:
        for request_id, pending in list(self._pending.items()):
            if pending is future:
                del self._pending[request_id]

    # -- the Ready loop ---------------------------------------------------------
    def flush(self) -> None:
        if self._halted:
            return
        self._finish_write()
        while self.replica.has_ready():
            ready = self.replica.ready()
            first, rest = ready.split_messages()
            if first and self._needs_write(ready):
                self._send_certificates_first(ready, first, rest)
                return
            self._carry_out_or_halt(ready, ready.messages, {})
            self.replica.advance(ready)

    def _needs_write(self, ready: Ready) -> bool:
        return bool(ready.committed) or (
            ready.hard_state is not None and ready.hard_state != self._durable)

    def _send_certificates_first(self, ready: Ready, first: tuple[Outbound, ...],
                                 rest: tuple[Outbound, ...]) -> None:
        """Send the batch's FINALIZEs (`first`) now and carry out the rest in the loop's
        next turn: the peers' send tasks, woken by `send`, run first, and a task whose
        stream is open and idle writes its frame then (a busy one just queues it)."""
        wire: dict[int, bytes] = {}
        self._send_all(first, wire)
        handle = asyncio.get_running_loop().call_soon(self._write_in_turn)
        self._writing = (ready, rest, wire, handle)

    def _write_in_turn(self) -> None:
        try:
            self.flush()
        except Exception as exc:  # no caller here to raise it to
            if not self._halted:
                self._halt(exc)

    def settle(self) -> None:
        """Carry out a batch whose FINALIZEs went ahead of its write, if any: called before
        anything else changes the replica, so the replica never runs ahead of its store.
        Raises what carrying it out raises (the driver has halted then)."""
        if not self._halted:
            self._finish_write()

    def _finish_write(self) -> None:
        if self._writing is None:
            return
        ready, rest, wire, handle = self._writing
        self._writing = None
        handle.cancel()
        self._carry_out_or_halt(ready, rest, wire)
        self.replica.advance(ready)

    def _carry_out_or_halt(self, ready: Ready, messages: tuple[Outbound, ...],
                           wire: dict[int, bytes]) -> None:
        try:
            self._carry_out(ready, messages, wire)
        except Exception as exc:
            self._halt(exc)
            raise

    def _halt(self, exc: Exception) -> None:
        self._halted = True
        if self._writing is not None:
            self._writing[3].cancel()
            self._writing = None
        if self.on_error is None:
            log.error("carrying out a decided batch failed; this node takes no further "
                      "part in agreement", exc_info=exc)
        else:
            self.on_error(exc)

    def _carry_out(self, ready: Ready, messages: tuple[Outbound, ...],
                   wire: dict[int, bytes]) -> None:
        """Write `ready`, send `messages` (all of its messages, or those left when its
        FINALIZEs went first), apply and report it, then send the messages that say it
        is applied (CONFIG_APPLIED); `wire`: encodings already made."""
        self.stats.batches += 1
        state = ready.hard_state
        if state is not None and state == self._durable:
            state = None
        if ready.committed or state is not None:
            own = tuple(e for e in ready.events if isinstance(e, ProposalCommitted))
            self.persist(ready.committed, state, own)
            self.stats.persisted_revisions += len(ready.committed)
            if state is not None:
                self._durable = state
        reports = tuple(o for o in messages if follows_apply(o.message))
        if reports:
            messages = tuple(o for o in messages if not follows_apply(o.message))
        self._send_all(messages, wire)
        for decided in ready.committed:
            self.apply(decided)
        for event in ready.events:
            self._resolve(event)
            self.on_event(event)
        self._send_all(reports, wire)

    def _send_all(self, messages: tuple[Outbound, ...], wire: dict[int, bytes]) -> None:
        """`wire`: encodings by message identity, so that a broadcast is encoded once."""
        for outbound in messages:
            message = outbound.message
            if log.isEnabledFor(logging.DEBUG):
                log.debug("send %s to %s", type(message).__name__, outbound.to)
            data = wire.get(id(message))
            if data is None:
                data = wire[id(message)] = encode_message(message)
            self.send(outbound.to, data)

    def _resolve(self, event: Event) -> None:
        outcome: Outcome | None = None
        request_id = ""
        if isinstance(event, ProposalCommitted):
            request_id = event.request_id
            outcome = Outcome(True, revision=event.revision)
        elif isinstance(event, ProposalAborted):
            if not event.final:
                return  # the entry may still commit over the veto: wait for the outcome
            request_id = event.request_id
            outcome = Outcome(False, kind="aborted", reason=event.reason,
                              rejected_by=event.rejected_by)
        elif isinstance(event, ProposalRefused):
            request_id = event.request_id
            outcome = Outcome(False, kind=event.kind, reason=event.reason)
        if outcome is None:
            return
        future = self._pending.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(outcome)
