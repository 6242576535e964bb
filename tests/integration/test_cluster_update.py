"""A 4-node cluster of real processes: consensus updates, refusals, rollback."""

from __future__ import annotations

from integration_harness import LocalCluster


def test_consensus_update_commits_on_every_node_with_equal_hash(cluster: LocalCluster) -> None:
    before, _ = cluster.wait_converged()
    result = cluster.client(1).set("network.compression.level", 6)
    assert result["revision"] == before + 1
    revision, cluster_hash = cluster.wait_converged(at_least=before + 1)
    assert revision == before + 1
    for index in range(cluster.size):
        document, _, etag = cluster.client(index).get()
        assert document["network"]["compression"]["level"] == 6
        assert etag.strip('"') == cluster_hash
