"""Lifting an isolation through the manager and the runtime, without a running cluster.

Node-0 of a four-member cluster is built in-process (store, replica, manager;
nothing is served). Signed STATUS messages from node-1 claiming another
revision 0 are evidence that isolates it, as a member booted from a wrong file
would be; the reset then goes manager -> runtime -> replica -> event handler.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from reload_helpers import cluster_member

from butterfly_config.consensus.crypto import Signer, sign_message
from butterfly_config.consensus.messages import Status, encode_message
from butterfly_config.consensus.state import EvidenceFound
from butterfly_config.history.errors import HistoryError
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.runtime import NodeRuntime, load_signer
from butterfly_config.node.service import Identity, UpdateRefused
from butterfly_config.node.state_codec import decode_hard_state

WRONG_GENESIS = "f" * 64


def build(tmp_path: Path) -> tuple[NodeRuntime, Signer]:
    runtime, _ = cluster_member(tmp_path)
    return runtime, peer_signer(tmp_path, 1)


def peer_signer(tmp_path: Path, index: int) -> Signer:
    """The signing key of member `index` of the cluster `build` made in `tmp_path`."""
    path = tmp_path / f"node-{index}" / "node.toml"
    peer = ConfigLoader().add_file(path).load().model
    return load_signer(peer, standalone=False, base_dir=str(path.parent))


def claim_other_genesis(runtime: NodeRuntime, signer: Signer) -> None:
    status = Status(runtime.params.cluster_name, signer.node_id, 0, 0, 0, WRONG_GENESIS)
    runtime.driver.receive(encode_message(sign_message(signer, status)))


def isolate(runtime: NodeRuntime, signer: Signer) -> None:
    """Enough false claims from `signer`'s member to isolate it."""
    for _ in range(4):
        claim_other_genesis(runtime, signer)
    assert runtime.replica.member_state(signer.node_id) == "isolated"


def peer_reputation(runtime: NodeRuntime, peer: str) -> float | None:
    return runtime.metrics.registry.get_sample_value(
        "butterfly_config_peer_reputation", {"peer": peer})


def test_reset_lifts_the_isolation_and_the_member_is_heard_again(tmp_path: Path) -> None:
    async def body() -> None:
        runtime, node_1 = build(tmp_path)
        try:
            isolate(runtime, node_1)
            assert runtime.cluster_status()["nodes"][1]["state"] == "isolated"
            claim_other_genesis(runtime, node_1)  # ignored while isolated
            assert runtime.replica.reputation("node-1") == 0.0

            answer = runtime.manager.reset_reputation("node-1", identity=Identity("erin"))

            assert answer == {"node_id": "node-0", "member": "node-1", "reputation": 100.0,
                              "state": "trusted", "previous_reputation": 0.0,
                              "previous_state": "isolated"}
            assert runtime.replica.member_state("node-1") == "trusted"
            assert runtime.cluster_status()["nodes"][1]["reputation_state"] == "trusted"
            assert peer_reputation(runtime, "node-1") == 100.0
            assert runtime.store.load_reputation()["node-1"] == 100.0
            stored = runtime.store.load_consensus_state()
            assert stored is not None and ("node-1", 100.0) in decode_hard_state(stored).reputation
            newest = runtime.store.list_audit(1)[0]
            assert (newest.actor, newest.action, newest.outcome) == (
                "erin", "reputation-reset", "reset")
            assert newest.detail["member"] == "node-1"
            # its messages count again: the next false claim costs it again
            claim_other_genesis(runtime, node_1)
            assert runtime.replica.reputation("node-1") == 75.0
        finally:
            runtime.manager.close()
            runtime.store.close()

    asyncio.run(body())


def test_unknown_member_is_refused_and_audited(tmp_path: Path) -> None:
    async def body() -> None:
        runtime, _ = build(tmp_path)
        try:
            with pytest.raises(UpdateRefused) as refused:
                runtime.manager.reset_reputation("node-9", identity=Identity("erin"))
            assert refused.value.status == 404
            assert "not a member" in refused.value.message
            newest = runtime.store.list_audit(1)[0]
            assert (newest.action, newest.outcome) == ("reputation-reset", "refused")
        finally:
            runtime.manager.close()
            runtime.store.close()

    asyncio.run(body())


def test_evidence_is_audited_and_only_critical_evidence_is_a_warning(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    async def body() -> None:
        runtime, node_1 = build(tmp_path)
        try:
            with caplog.at_level(logging.INFO, logger="butterfly"):
                claim_other_genesis(runtime, node_1)  # divergent_head: critical
                runtime._event(EvidenceFound("node-2", "unverifiable_veto", "vetoed: busy",
                                             critical=False))
            levels = {r.getMessage().split(":")[0]: r.levelno for r in caplog.records
                      if r.getMessage().startswith("evidence against")}
            assert levels == {"evidence against node-1": logging.WARNING,
                              "evidence against node-2": logging.INFO}
            audits = [(a.outcome, a.detail["member"], a.detail["critical"])
                      for a in runtime.store.list_audit(10) if a.action == "evidence"]
            assert sorted(audits) == [("divergent_head", "node-1", True),
                                      ("unverifiable_veto", "node-2", False)]
        finally:
            runtime.manager.close()
            runtime.store.close()

    asyncio.run(body())


def test_every_peers_reputation_is_exported_from_the_start(tmp_path: Path) -> None:
    """DESIGN 1.10's `butterfly_config_peer_reputation{peer}` had only its TYPE line until
    some score changed; a dashboard must see every peer's score as soon as the node runs."""
    async def body() -> None:
        runtime, node_1 = build(tmp_path)
        try:
            peers = {"node-1": 100.0, "node-2": 100.0, "node-3": 100.0}
            assert {peer: peer_reputation(runtime, peer) for peer in peers} == peers
            assert peer_reputation(runtime, "node-0") is None  # a node judges its peers only
            claim_other_genesis(runtime, node_1)
            lowered = peer_reputation(runtime, "node-1")
            assert lowered == runtime.replica.reputation("node-1") < 100.0  # kept current
            assert b'butterfly_config_peer_reputation{peer="node-2"} 100.0' in \
                runtime.metrics.render()[0]
        finally:
            runtime.manager.close()
            runtime.store.close()

    asyncio.run(body())


@pytest.mark.parametrize("when", ["before", "during"])
def test_a_store_that_fails_refuses_the_reset_with_503_and_stops_the_node(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, when: str) -> None:
    """A reset the node cannot make durable is not answered as done (nor with a 500): the
    node stops, as on any store failure, and the operator is told why."""
    async def body() -> None:
        runtime, node_1 = build(tmp_path)
        try:
            isolate(runtime, node_1)

            def fail(*_args: object, **_kwargs: object) -> None:
                raise HistoryError("disk full")

            monkeypatch.setattr(runtime.store, "save_consensus_state", fail)
            if when == "before":  # a batch failed earlier: the node is already stopping
                with pytest.raises(HistoryError):
                    claim_other_genesis(runtime, peer_signer(tmp_path, 2))
                assert runtime.driver.halted
            with pytest.raises(UpdateRefused) as refused:
                runtime.manager.reset_reputation("node-1", identity=Identity("erin"))
            assert refused.value.status == 503
            assert "this node is stopping" in refused.value.message
            assert "the reset is not kept" in refused.value.message
            assert runtime.exit_code == 1 and runtime.driver.halted
            assert not any(a.action == "reputation-reset" for a in runtime.store.list_audit(20))
        finally:
            runtime.manager.close()
            runtime.store.close()

    asyncio.run(body())
