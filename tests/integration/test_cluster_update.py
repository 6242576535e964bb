"""A 4-node cluster of real processes: consensus updates, refusals, vetoes, rollback, history.

One cluster serves the whole module; the tests run in file order and each one
starts from whatever revision the previous one left, reading it first. node-2
carries an in-process subscriber (node/test_hooks.py) that vetoes any
configuration with `scheduling.policy = "custom"`.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from integration_harness import LocalCluster

from butterfly_config.client import RemoteRefused

VETOING_NODE = 2
VETOED = ("scheduling.policy", "custom")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("update") / "cluster", 4,
        node_env={VETOING_NODE: {"BUTTERFLY_TEST_VETO": "=".join(VETOED)}},
    ) as local:
        yield local


def documents(cluster: LocalCluster) -> list[tuple[dict[str, Any], int, str]]:
    views = []
    for index in range(cluster.size):
        document, revision, etag = cluster.client(index).get()
        assert isinstance(document, dict)
        views.append((document, revision, etag.strip('"')))
    return views


def test_consensus_update_commits_on_every_node_with_equal_hash(cluster: LocalCluster) -> None:
    before, _ = cluster.wait_converged()
    result = cluster.client(1).set("network.compression.level", 6)
    assert result["revision"] == before + 1 and result["scope"] == "cluster"
    revision, cluster_hash = cluster.wait_converged(at_least=before + 1)
    assert revision == before + 1
    assert result["cluster_hash"] == cluster_hash
    for document, node_revision, etag in documents(cluster):
        assert document["network"]["compression"]["level"] == 6
        assert (node_revision, etag) == (revision, cluster_hash)
    # The agreement travelled on one stream per peer, which cluster status shows.
    transport = cluster.client(1).status()["peer_transport"]
    assert transport["links"] == {"node-0": "stream", "node-2": "stream", "node-3": "stream"}
    assert transport["sent"] > 0 and transport["streams_opened"] >= 3
    assert transport["malformed_frames"] == 0


def test_static_critical_change_is_refused_and_nothing_changes(cluster: LocalCluster) -> None:
    before = documents(cluster)
    # Static is checked first: the invalid compression level does not turn the 409 into a 400.
    with pytest.raises(RemoteRefused) as refused:
        cluster.client(1).patch([
            {"op": "set", "path": "byzantine.f_value", "value": 2},
            {"op": "set", "path": "network.compression.level", "value": 99},
        ])
    assert refused.value.status == 409
    assert refused.value.restart_required == ["byzantine.f_value"]
    assert "requires restart" in refused.value.message
    whole_document = before[3][0]
    whole_document["network"]["coordinator_addr"] = "127.0.0.1:1"
    with pytest.raises(RemoteRefused) as whole:
        cluster.client(3).update(whole_document)
    assert whole.value.status == 409
    assert whole.value.restart_required == ["network.coordinator_addr"]
    whole_document["network"]["coordinator_addr"] = before[0][0]["network"]["coordinator_addr"]
    assert documents(cluster) == before


def test_dynamic_local_change_reaches_only_its_node(cluster: LocalCluster) -> None:
    revision, cluster_hash = cluster.wait_converged()
    result = cluster.client(3).set("scheduling.queues.max_queue_depth", 7)
    assert result["scope"] == "local"
    assert (result["revision"], result["cluster_hash"]) == (revision, cluster_hash)
    for index, (document, node_revision, etag) in enumerate(documents(cluster)):
        depth = document["scheduling"]["queues"]["max_queue_depth"]
        assert depth == (7 if index == 3 else 100), f"node-{index}"
        assert (node_revision, etag) == (revision, cluster_hash), f"node-{index}"
    local = cluster.client(3).history(scope="local")
    assert [c["changes"] for c in local] == [
        [{"path": "scheduling.queues.max_queue_depth", "old": 100, "new": 7}]]
    assert cluster.client(1).history(scope="local") == []


def test_a_subscriber_veto_on_one_node_aborts_the_update_everywhere(
        cluster: LocalCluster) -> None:
    revision, cluster_hash = cluster.wait_converged()
    path, value = VETOED
    with pytest.raises(RemoteRefused) as aborted:
        cluster.client(0).set(path, value)
    assert aborted.value.status == 409
    assert "aborted by node-2" in aborted.value.message
    assert "test-veto" in aborted.value.message and "nothing applied" in aborted.value.message
    assert "refused the update" in aborted.value.hint
    for index, (document, node_revision, etag) in enumerate(documents(cluster)):
        assert document["scheduling"]["policy"] == "predictive", f"node-{index}"
        assert (node_revision, etag) == (revision, cluster_hash), f"node-{index}"
    # The veto was about that value only: the next update commits everywhere.
    cluster.client(2).set(path, "least_loaded")
    cluster.wait_converged(at_least=revision + 1)


def test_rollback_is_a_new_revision_equal_to_its_target(cluster: LocalCluster) -> None:
    head, _ = cluster.wait_converged()
    history = cluster.client(0).history(limit=50)
    target = next(e for e in history if e["revision"] == 1)
    result = cluster.client(3).rollback(1)
    assert result["revision"] == head + 1
    revision, cluster_hash = cluster.wait_converged(at_least=head + 1)
    assert (revision, cluster_hash) == (head + 1, target["cluster_hash"])
    for index, (document, _, _) in enumerate(documents(cluster)):
        assert document["scheduling"]["policy"] == "predictive", f"node-{index}"
        assert document["network"]["compression"]["level"] == 6, f"node-{index}"
    newest = cluster.client(1).history(limit=1)[0]
    assert (newest["revision"], newest["action"]) == (head + 1, "rollback")
    assert {c["path"] for c in newest["changes"]} == {"scheduling.policy"}


def test_history_and_audit_are_complete(cluster: LocalCluster) -> None:
    with cluster.http() as http:
        denied = http.get(f"{cluster.url(1)}/api/v1/config",
                          headers={"Authorization": "Bearer not-a-token"})
    assert denied.status_code == 401
    head, _ = cluster.wait_converged()
    # Everything but the timestamp (each node's own time of applying) is the same everywhere.
    histories = [[{k: v for k, v in e.items() if k != "timestamp"}
                  for e in cluster.client(i).history(limit=100)] for i in range(cluster.size)]
    assert all(h == histories[0] for h in histories[1:]), "nodes disagree on the history"
    history = list(reversed(histories[0]))
    assert [e["revision"] for e in history] == list(range(head + 1))
    assert [e["action"] for e in history[1:]] == ["patch", "patch", "rollback"]
    assert all(e["certified"] for e in history[1:])
    for parent, child in itertools.pairwise(history):
        assert child["parent_digest"] == parent["entry_digest"]
    assert {e["initiator"] for e in history[1:]} == {"dev-admin"}

    def outcomes(index: int) -> list[tuple[str, str]]:
        return [(r["action"], r["outcome"]) for r in cluster.audit(index)]

    # Each record is written by the node that handled the request.
    assert outcomes(1)[:2] == [("patch", "committed"), ("patch", "refused")]
    committed = next(r for r in cluster.audit(1) if r["outcome"] == "committed")
    assert committed["actor"] == "dev-admin" and committed["detail"]["paths"]
    assert committed["detail"]["revision"] in {e["revision"] for e in history[1:]}
    assert ("api GET /api/v1/config", "unauthenticated") in outcomes(1)
    assert outcomes(3)[:3] == [("update", "refused"), ("patch", "applied-local"),
                               ("rollback", "committed")]
    assert ("patch", "aborted") in outcomes(0)
    aborted = next(r for r in cluster.audit(0) if r["outcome"] == "aborted")
    assert aborted["actor"] == "dev-admin" and aborted["detail"]["rejected_by"] == ["node-2"]
    assert outcomes(2) == [("patch", "committed")]
    auth = next(r for r in cluster.audit(1) if r["outcome"] == "unauthenticated")
    assert auth["actor"] == "127.0.0.1" and "not-a-token" not in str(auth)

