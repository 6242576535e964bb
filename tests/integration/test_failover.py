"""Failure detection, view change and divergence repair between real node processes.

One 4-node cluster (f = 1) serves the module. It starts with the default
failure-detection settings and a slow view-change timeout, and the first test
commits faster ones: every later test then runs on parameters that took effect
live, without a restart.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from integration_harness import LocalCluster

from butterfly_config.node.api.models import ClusterStatus
from butterfly_config.node.failure_detector import DetectorSettings, PhiAccrualDetector
from butterfly_config.node.transport import HEARTBEAT_PATH

STARTING = {
    "byzantine.agreement.pre_prepare_timeout_ms": 500,
    "byzantine.agreement.prepare_timeout_ms": 1000,
    "byzantine.agreement.commit_timeout_ms": 1500,
    "byzantine.view_change.timeout_ms": 30_000,
}
LIVE = {
    "byzantine.view_change.timeout_ms": 3000,
    "byzantine.failure_detection.heartbeat_interval_ms": 80,
    "byzantine.failure_detection.phi_suspect_threshold": 7.0,
    "byzantine.failure_detection.phi_failed_threshold": 11.0,
    "byzantine.agreement.prepare_timeout_ms": 900,
    "byzantine.reputation.isolate_threshold": 12.0,
}
SLACK_S = 4.0  # scheduling on a loaded 2-core machine


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    root = tmp_path_factory.mktemp("failover") / "cluster"
    with LocalCluster(root, 4, options=STARTING) as local:
        yield local


@pytest.fixture(autouse=True)
def all_nodes_up(cluster: LocalCluster) -> Iterator[None]:
    """Each test starts and ends with every node running and converged."""
    yield
    cluster.heal()


def status(cluster: LocalCluster, index: int) -> dict[str, Any]:
    return cluster.client(index).status()


def node_of(result: dict[str, Any], node_id: str) -> dict[str, Any]:
    return next(n for n in result["nodes"] if n["node_id"] == node_id)


def detection_s(interval_ms: int, failed: float) -> float:
    """How long the detector takes to declare a steady peer failed (from its own model)."""
    detector = PhiAccrualDetector(DetectorSettings(suspect_threshold=failed / 2,
                                                   failed_threshold=failed))
    now = 0.0
    for _ in range(100):
        detector.heartbeat("p", now, interval_ms)
        now += interval_ms
    last = now - interval_ms
    return next(t for t in range(0, 60_000, 10) if detector.phi("p", last + t) >= failed) / 1000


def new_view(cluster: LocalCluster, members: list[int], old_view: int,
             old_coordinator: str) -> dict[str, Any] | None:
    views = [status(cluster, i) for i in members]
    if all(v["view"] > old_view and v["established"] and v["coordinator"] != old_coordinator
           for v in views) and len({v["view"] for v in views}) == 1:
        return views[0]
    return None


def test_parameters_change_live_on_every_node(cluster: LocalCluster) -> None:
    before = status(cluster, 0)
    ClusterStatus.model_validate(before)
    assert before["protocol"]["view_change_timeout_ms"] == 30_000
    assert before["failure_detection"]["phi_failed_threshold"] == 12.0
    result = cluster.client(2).patch(
        [{"op": "set", "path": k, "value": v} for k, v in LIVE.items()])
    cluster.wait_converged(at_least=result["revision"])

    def applied_everywhere() -> bool:
        for index in range(cluster.size):
            now = status(cluster, index)
            fd, protocol = now["failure_detection"], now["protocol"]
            peers = [n for n in now["nodes"] if n["node_id"] != cluster.node(index).node_id]
            if not (fd["phi_suspect_threshold"] == 7.0 and fd["phi_failed_threshold"] == 11.0
                    and protocol["view_change_timeout_ms"] == 3000
                    and protocol["prepare_timeout_ms"] == 900
                    and protocol["reputation_isolate_threshold"] == 12.0
                    # the peers announce (and are judged by) the new heartbeat interval
                    and all(p["heartbeat_interval_ms"] == 80 for p in peers)):
                return False
        return True

    cluster.wait_for("live parameters on every node", applied_everywhere, timeout=10)


def test_a_paused_coordinator_is_replaced_and_rejoins(cluster: LocalCluster) -> None:
    start = status(cluster, 0)
    coordinator = start["coordinator"]
    c = int(coordinator.split("-")[1])
    others = [i for i in range(cluster.size) if i != c]
    revision = cluster.wait_converged()[0]
    timeout_s = LIVE["byzantine.view_change.timeout_ms"] / 1000
    bound = timeout_s + detection_s(80, 11.0) + SLACK_S

    cluster.pause(c)  # alive as a process, silent as a member
    paused_at = time.monotonic()
    formed = cluster.wait_for(
        "the others to form a new view",
        lambda: new_view(cluster, others, start["view"], coordinator), timeout=bound + 10)
    took = time.monotonic() - paused_at
    assert took <= bound, f"view change took {took:.1f}s, more than {bound:.1f}s"
    seen = node_of(status(cluster, others[0]), coordinator)
    assert seen["detector"] == "failed" and seen["state"] == "failed" and seen["phi"] >= 11.0
    # nothing was in flight, so only the failure detector can have started it
    suspicions = [r for i in others for r in cluster.audit(i)
                  if r["action"] == "view-change" and r["outcome"] == "coordinator-failed"]
    assert suspicions and all(r["detail"]["coordinator"] == coordinator for r in suspicions)

    result = cluster.client(others[0]).set("network.compression.level", 9)
    assert result["revision"] == revision + 1
    assert status(cluster, others[1])["view"] == formed["view"]  # committed in the new view
    cluster.wait_converged(others, at_least=revision + 1)

    cluster.resume(c)
    result = cluster.client(others[1]).set("network.compression.level", 10)
    cluster.wait_converged(at_least=result["revision"], timeout=30)

    def rejoined() -> dict[str, Any] | None:
        back = status(cluster, c)
        peers_ready = all(node_of(back, n.node_id)["state"] == "ready"
                          for n in cluster.layout.nodes if n.index != c)
        ok = back["view"] == formed["view"] and back["established"] and peers_ready
        return back if ok else None

    back = cluster.wait_for("the old coordinator to rejoin the new view", rejoined, timeout=20)
    assert back["coordinator"] == formed["coordinator"]
    # the paused node blamed its own stall, not its peers
    assert not [r for r in cluster.audit(c) if r["outcome"] == "coordinator-failed"]


def test_a_partitioned_minority_converges_after_healing(cluster: LocalCluster) -> None:
    minority = 3
    majority = [0, 1, 2]
    ids = [n.node_id for n in cluster.layout.nodes]
    revision = cluster.wait_converged()[0]
    audited = len(cluster.audit(minority))
    cluster.cut_off(minority)
    for step in range(3):
        result = cluster.client(majority[step % 3]).set("network.compression.level", 11 + step)
        assert result["revision"] == revision + 1 + step
    head = cluster.wait_converged(majority, at_least=revision + 3)
    assert cluster.revision_and_hash(minority)[0] == revision  # cut off: nothing new
    cluster.wait_for("the majority to see the minority as failed",
                     lambda: node_of(status(cluster, 0), ids[minority])["state"] == "failed")

    cluster.cut_off(None)
    assert cluster.wait_converged(at_least=head[0], timeout=20) == head
    # cut off, the minority did not start a view change of its own: it is in the majority's
    # view and votes again, so a later commit needs no view change
    views = {(s["view"], s["established"]) for s in (status(cluster, i) for i in range(4))}
    assert len(views) == 1 and views.pop()[1], views
    later = cluster.audit(minority)[audited:]
    assert not [r for r in later if r["outcome"] == "coordinator-failed"]
    history = cluster.client(minority).history(limit=10)
    assert [e["revision"] for e in history][:4] == [head[0], head[0] - 1, head[0] - 2, revision]
    assert history[0]["cluster_hash"] == head[1] and all(e["certified"] for e in history[:3])


def test_forged_unsigned_and_foreign_heartbeats_are_refused(cluster: LocalCluster) -> None:
    from butterfly_config.consensus.crypto import generate_signer
    from butterfly_config.node.heartbeats import Heartbeat, encode_heartbeat

    target = cluster.peer_url(1) + HEARTBEAT_PATH
    before = status(cluster, 1)
    impostor = generate_signer("node-2")  # a key that is not node-2's
    cluster_name = cluster.client(1).get()[0]["metadata"]["cluster_name"]
    forged = encode_heartbeat(
        Heartbeat(cluster_name, "node-2", 1 << 40, 999, "00" * 32, 0, 80), impostor)
    stranger = generate_signer("node-9")
    foreign = encode_heartbeat(
        Heartbeat(cluster_name, "node-9", 1, 0, "00" * 32, 0, 80), stranger)
    headers = {"X-Butterfly-Node": "node-2"}
    with httpx.Client(timeout=5.0) as http:
        assert http.post(target, content=forged, headers=headers).status_code == 400
        assert http.post(target, content=b'{"node_id":"node-2","revision":999}',
                         headers=headers).status_code == 400
        assert http.post(target, content=foreign,
                         headers={"X-Butterfly-Node": "node-9"}).status_code == 400
    after = status(cluster, 1)
    assert node_of(after, "node-2")["revision"] == before["revision"] == after["revision"]
    assert after["failure_detection"]["refused_heartbeats"] >= 3
    assert after["failure_detection"]["catch_up_requests"] == \
        before["failure_detection"]["catch_up_requests"]
    assert after["divergence"] == []


def test_show_hash_lists_every_nodes_revision_and_hash(cluster: LocalCluster) -> None:
    revision, cluster_hash = cluster.wait_converged()
    completed = subprocess.run(
        [sys.executable, "-m", "butterfly_config", "config", "show", "--hash", "--cluster",
         "--url", cluster.url(0), "--token", cluster.token],
        capture_output=True, text=True, timeout=30, check=False)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    for node in cluster.layout.nodes:
        assert f"{node.node_id}: revision {revision} cluster_hash {cluster_hash} (ready)" in lines
    synced = subprocess.run(
        [sys.executable, "-m", "butterfly_config", "config", "sync",
         "--url", cluster.url(2), "--token", cluster.token],
        capture_output=True, text=True, timeout=30, check=False)
    assert synced.returncode == 0 and cluster_hash in synced.stdout, synced.stderr
