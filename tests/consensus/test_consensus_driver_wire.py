"""What a commit puts on the wire: each broadcast encoded once by the node's driver, and its
recipients in the order that serves the client soonest."""

from __future__ import annotations

import asyncio

import pytest
from consensus_harness import Harness, genesis, hash_fn, make_params, make_validator, signers
from scripted_replica import ScriptedReplica

from butterfly_config.consensus.messages import Finalize, Propose, decode_message, encode_message
from butterfly_config.consensus.replica import Replica
from butterfly_config.consensus.state import ProposalAborted, ProposalCommitted
from butterfly_config.node import agreement


def test_a_broadcast_is_encoded_once_and_every_peer_gets_the_same_bytes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    params = make_params(4)
    coordinator = signers(4)[0]
    replica = Replica(params, coordinator, make_validator(coordinator.node_id), hash_fn,
                      [genesis()])
    sent: list[tuple[str, bytes]] = []
    encoded: list[object] = []

    def counting_encode(message: object) -> bytes:
        encoded.append(message)
        return encode_message(message)  # type: ignore[arg-type]

    monkeypatch.setattr(agreement, "encode_message", counting_encode)
    driver = agreement.ConsensusDriver(
        replica, persist=lambda _c, _s, _o: None, send=lambda to, data: sent.append((to, data)),
        apply=lambda _d: None, on_event=lambda _e: None)

    async def propose() -> None:
        driver.propose(b"doc-1", initiator="tester", action="update")

    asyncio.run(propose())
    proposes = [(to, data) for to, data in sent if isinstance(decode_message(data), Propose)]
    assert sorted(to for to, _ in proposes) == ["n1", "n2", "n3"]
    assert len({data for _, data in proposes}) == 1
    assert sum(isinstance(m, Propose) for m in encoded) == 1
    assert decode_message(proposes[0][1]) == next(m for m in encoded if isinstance(m, Propose))


def test_the_origin_gets_the_propose_last_and_the_finalize_first() -> None:
    h = Harness(make_params(4))
    h.propose("n2", "r1", b"doc-1")
    h.run()
    assert [to for sender, to, m in h.sent
            if sender == "n0" and isinstance(m, Propose)] == ["n1", "n3", "n2"]
    assert [to for sender, to, m in h.sent
            if sender == "n0" and isinstance(m, Finalize)] == ["n2", "n1", "n3"]


def test_an_abort_that_is_not_final_leaves_the_client_waiting_for_the_outcome() -> None:
    """A veto by fewer than f members on the fast path may be overridden (the entry is
    re-proposed and commits): the driver answers the client with the real outcome."""
    replica = ScriptedReplica()
    driver = agreement.ConsensusDriver(
        replica, persist=lambda _c, _s, _o: None,  # type: ignore[arg-type]
        send=lambda _to, _data: None, apply=lambda _d: None, on_event=lambda _e: None)

    async def body() -> None:
        future = driver.propose(b"doc-1", initiator="tester", action="update",
                                request_id="r1")
        replica.emit(ProposalAborted("r1", "n3: subscriber refuses", ("n3",), final=False))
        driver.flush()
        assert not future.done()
        replica.emit(ProposalCommitted("r1", 1, "d" * 64))
        driver.flush()
        assert (await future).committed
        second = driver.propose(b"doc-2", initiator="tester", action="update",
                                request_id="r2")
        replica.emit(ProposalAborted("r2", "n3: subscriber refuses", ("n3",)))
        driver.flush()
        outcome = await second
        assert not outcome.committed and outcome.rejected_by == ("n3",)

    asyncio.run(body())
