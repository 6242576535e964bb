"""The node's driver writes before it sends, except a FINALIZE: a commit certificate leaves
before its batch is durable on the coordinator, and nothing is stepped until it is."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from consensus_harness import genesis, hash_fn, make_params, make_validator, signers
from scripted_replica import ScriptedReplica

from butterfly_config.consensus.messages import Decided, Finalize, decode_message
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import HardState, ProposalCommitted, Ready
from butterfly_config.history.errors import HistoryError
from butterfly_config.node import agreement


class Cluster:
    """Four replicas, each behind its own ConsensusDriver in one event loop; a message
    is delivered in a later turn of the loop, as the transport does."""

    def __init__(self) -> None:
        self.params = make_params(4)
        self.log: list[tuple[Any, ...]] = []  # ("write", node, revisions) / ("send", ...)
        self.drivers: dict[str, agreement.ConsensusDriver] = {}
        self.on_send: list[Any] = []
        self.wire: dict[tuple[str, str, str], bytes] = {}  # (sender, to, kind): last bytes
        for signer in signers(4):
            node = signer.node_id
            replica = Replica(self.params, signer, make_validator(node), hash_fn, [genesis()])
            self.drivers[node] = agreement.ConsensusDriver(
                replica, persist=self._persist(node), send=self._send(node),
                apply=self._apply(node), on_event=self._event(node))

    def _apply(self, node: str) -> Any:
        def apply(decided: Decided) -> None:
            self.log.append(("apply", node, decided.entry.revision))
        return apply

    def _event(self, node: str) -> Any:
        def on_event(event: object) -> None:
            self.log.append(("event", node, type(event).__name__))
        return on_event

    def _persist(self, node: str) -> agreement.Persist:
        def persist(committed: tuple[Decided, ...], state: HardState | None,
                    own: tuple[ProposalCommitted, ...]) -> None:
            del state, own
            self.log.append(("write", node, tuple(d.entry.revision for d in committed)))
        return persist

    def _send(self, node: str) -> Any:
        def send(to: str, data: bytes) -> None:
            message = decode_message(data)
            self.log.append(("send", node, type(message).__name__, to))
            self.wire[(node, to, type(message).__name__)] = data
            for hook in self.on_send:
                hook(node, message)
            asyncio.get_running_loop().call_soon(self.drivers[to].receive, data)
        return send

    def index(self, *entry: Any) -> int:
        return self.log.index(entry)


def test_the_coordinator_sends_its_finalize_before_it_writes_the_revision() -> None:
    cluster = Cluster()

    async def body() -> agreement.Outcome:
        future = cluster.drivers["n0"].propose(b"doc-1", initiator="alice", action="update")
        return await asyncio.wait_for(future, 5)

    outcome = asyncio.run(body())
    assert outcome.committed and outcome.revision == 1
    log = cluster.log
    coordinator_write = cluster.index("write", "n0", (1,))
    finalizes = [i for i, e in enumerate(log) if e[:3] == ("send", "n0", "Finalize")]
    assert len(finalizes) == 3
    assert max(finalizes) < coordinator_write
    # everything else still waits for its write: the proposal, and each member's vote
    assert cluster.index("write", "n0", ()) < cluster.index("send", "n0", "Propose", "n1")
    for member in ("n1", "n2", "n3"):
        assert cluster.index("write", member, ()) < cluster.index(
            "send", member, "PrepareOk", "n0")
        # a member applies (and answers CONFIG_APPLIED) only once it wrote the revision
        assert cluster.index("write", member, (1,)) < cluster.index("apply", member, 1)


def test_config_applied_leaves_once_the_revision_is_applied_and_reported() -> None:
    """The contract's order: a member applies the revision, tells its own components
    (the events: here the origin's client gets its answer) and then answers
    CONFIG_APPLIED, which says the revision is applied."""
    cluster = Cluster()

    async def body() -> agreement.Outcome:
        future = cluster.drivers["n1"].propose(b"doc-1", initiator="alice", action="update")
        return await asyncio.wait_for(future, 5)

    assert asyncio.run(body()).committed
    for member in ("n1", "n2", "n3"):
        answered = cluster.index("send", member, "ConfigApplied", "n0")
        assert cluster.index("write", member, (1,)) < cluster.index("apply", member, 1)
        assert cluster.index("apply", member, 1) < answered
    assert cluster.index("event", "n1", "ProposalCommitted") < cluster.index(
        "send", "n1", "ConfigApplied", "n0")


@pytest.mark.parametrize("entry", ["receive", "tick", "propose", "flush", "settle"])
def test_any_input_before_the_write_has_the_write_done_first(
    entry: str, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What comes between the FINALIZE and the coordinator's write (a peer's message, a
    tick, a client's proposal, a flush, a change the runtime makes after `settle`) finds
    the revision written before the replica is stepped."""
    cluster = Cluster()
    coordinator = cluster.drivers["n0"]
    seen: list[tuple[bool, int]] = []
    scheduled: list[bool] = []
    stepped: list[tuple[str, bool]] = []  # replica inputs in the gap: written by then?
    in_gap = [False]
    for method in ("step", "tick", "propose"):
        real = getattr(coordinator.replica, method)

        def recording(*args: Any, _real: Any = real, _name: str = method) -> Any:
            if in_gap[0]:
                stepped.append((_name, ("write", "n0", (1,)) in cluster.log))
            return _real(*args)

        monkeypatch.setattr(coordinator.replica, method, recording)

    def step_in_between(node: str, message: object) -> None:
        if node != "n0" or not isinstance(message, Finalize) or scheduled:
            return
        scheduled.append(True)
        written = lambda: ("write", "n0", (1,)) in cluster.log  # noqa: E731

        def input_in_the_gap() -> None:
            before = written()
            in_gap[0] = True
            if entry == "receive":  # a late copy of a vote
                coordinator.receive(cluster.wire[("n1", "n0", "PrepareOk")])
            elif entry == "tick":
                coordinator.tick()
            elif entry == "propose":
                coordinator.propose(b"doc-2", initiator="bob", action="update")
            elif entry == "flush":
                coordinator.flush()
            else:
                coordinator.settle()
            in_gap[0] = False
            seen.append((before, coordinator.replica.head_revision if written() else -1))

        # scheduled before the driver's own turn for the write: runs in the gap
        asyncio.get_running_loop().call_soon(input_in_the_gap)

    cluster.on_send.append(step_in_between)

    async def body() -> None:
        future = coordinator.propose(b"doc-1", initiator="alice", action="update")
        assert (await asyncio.wait_for(future, 5)).committed

    asyncio.run(body())
    assert seen == [(False, 1)]
    assert cluster.log.count(("write", "n0", (1,))) == 1  # written once, not again
    expected = {"receive": "step", "tick": "tick", "propose": "propose"}.get(entry)
    assert stepped == ([(expected, True)] if expected else [])


def _finalize_batch() -> Ready:
    """A coordinator's decision batch, taken from a real four-member run."""
    cluster = Cluster()
    batches: list[Ready] = []
    coordinator = cluster.drivers["n0"]
    real_carry_out = coordinator._carry_out

    def recording(ready: Ready, *rest: Any) -> None:
        if ready.committed:
            batches.append(ready)
        real_carry_out(ready, *rest)

    coordinator._carry_out = recording  # type: ignore[method-assign]

    async def body() -> None:
        await asyncio.wait_for(
            coordinator.propose(b"doc-1", initiator="alice", action="update"), 5)

    asyncio.run(body())
    (batch,) = batches
    assert any(isinstance(o.message, Finalize) for o in batch.messages)
    return batch


@pytest.mark.parametrize("where", ["persist", "event"])
@pytest.mark.parametrize("failure", [HistoryError("disk full"), RuntimeError("a bug")])
def test_what_fails_in_the_turn_after_the_finalize_reaches_the_runtime(
    failure: Exception, where: str,
) -> None:
    """No caller is there to catch it: `on_error` gets it (the runtime stops the node on a
    store failure), and a batch whose write failed is neither applied nor advanced."""
    batch = _finalize_batch()
    replica = ScriptedReplica(batch)
    applied: list[Decided] = []
    sent: list[str] = []
    errors: list[Exception] = []

    def persist(*_args: object) -> None:
        if where == "persist":
            raise failure

    def on_event(_event: object) -> None:
        if where == "event":
            raise failure

    driver = agreement.ConsensusDriver(
        replica, persist=persist,  # type: ignore[arg-type]
        send=lambda to, data: sent.append(type(decode_message(data)).__name__),
        apply=applied.append, on_event=on_event, on_error=errors.append)

    async def body() -> None:
        driver.flush()
        assert sent == ["Finalize"] * 3 and not replica.advanced
        await asyncio.sleep(0.01)  # the driver's turn for the write comes, and fails

    asyncio.run(body())
    assert errors == [failure]
    assert replica.advanced == [] and replica.batches == [batch]
    assert applied == ([] if where == "persist" else list(batch.committed))
    assert sent == ["Finalize"] * 3  # nothing else of the batch left
    assert driver.halted


def test_a_halted_driver_takes_no_more_input() -> None:
    """Nothing after a batch that could not be carried out may be sent, voted or applied:
    the FINALIZEs are not sent again, and a new proposal is answered at once."""
    batch = _finalize_batch()
    replica = ScriptedReplica(batch)
    sent: list[str] = []
    errors: list[Exception] = []

    def persist(*_args: object) -> None:
        raise HistoryError("disk full")

    driver = agreement.ConsensusDriver(
        replica, persist=persist,  # type: ignore[arg-type]
        send=lambda to, data: sent.append(type(decode_message(data)).__name__),
        apply=lambda _d: None, on_event=lambda _e: None, on_error=errors.append)

    async def body() -> agreement.Outcome:
        driver.flush()
        await asyncio.sleep(0.01)
        driver.tick()
        driver.flush()
        driver.settle()
        driver.receive(b"anything")
        return await driver.propose(b"doc-2", initiator="bob", action="update")

    outcome = asyncio.run(body())
    assert sent == ["Finalize"] * 3 and len(errors) == 1
    assert not outcome.committed and outcome.kind == "stopped"
    assert "no further part in agreement" in outcome.reason


def test_without_a_runtime_to_tell_a_failure_in_that_turn_is_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def persist(*_args: object) -> None:
        raise RuntimeError("a bug")

    driver = agreement.ConsensusDriver(
        ScriptedReplica(_finalize_batch()), persist=persist,  # type: ignore[arg-type]
        send=lambda _to, _data: None, apply=lambda _d: None, on_event=lambda _e: None)

    async def body() -> None:
        driver.flush()
        await asyncio.sleep(0.01)

    with caplog.at_level("ERROR", logger="butterfly.agreement"):
        asyncio.run(body())
    assert "carrying out a decided batch failed" in caplog.text and "a bug" in caplog.text


def test_without_a_finalize_the_batch_is_written_before_anything_is_sent() -> None:
    batch = _finalize_batch()
    member_batch = Ready(batch.hard_state, batch.committed,
                         tuple(o for o in batch.messages if not isinstance(o.message, Finalize)),
                         ())
    order: list[str] = []
    driver = agreement.ConsensusDriver(
        ScriptedReplica(member_batch),  # type: ignore[arg-type]
        persist=lambda *_a: order.append("write"),
        send=lambda _to, _data: order.append("send"),
        apply=lambda _d: order.append("apply"), on_event=lambda _e: None)
    driver.flush()  # no event loop needed: nothing waits for a later turn
    assert order[0] == "write" and order[-1] == "apply"

