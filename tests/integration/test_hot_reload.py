"""Hot reload on real node processes: an operator edits one node's file (DESIGN 1.6).

One 4-node cluster serves every test of this module; each test edits its own
options, and the static-change test puts the file back, so the order does not
matter.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from integration_harness import LocalCluster

from butterfly_config.cli.main import main
from butterfly_config.sources.toml_edit import save_by_rename, set_options

EDITED = 1  # the node whose file is edited; node-0 coordinates view 0
LOCAL_DEADLINE_S = 1.0  # the contract: a dynamic-local edit is live on its node within 1 s


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("hot-reload") / "cluster", 4) as local:
        yield local


def value_on(cluster: LocalCluster, index: int, dotted: str) -> Any:
    document: Any = cluster.client(index).get()[0]
    for name in dotted.split("."):
        document = document[name]
    return document


def status_cli(cluster: LocalCluster, capsys: pytest.CaptureFixture[str]) -> tuple[str, str]:
    """`butterfly cluster status` asked of the edited node: (stdout, stderr)."""
    capsys.readouterr()
    assert main(["cluster", "status", "--url", cluster.url(EDITED),
                 "--token", cluster.token]) == 0
    captured = capsys.readouterr()
    return captured.out, captured.err


def me(cluster: LocalCluster, index: int = EDITED) -> dict[str, Any]:
    status = cluster.client(index).status()
    return next(n for n in status["nodes"] if n["node_id"] == f"node-{index}")


def test_in_place_edit_of_a_dynamic_local_option_is_live_on_that_node_within_1s(
    cluster: LocalCluster,
) -> None:
    revision, cluster_hash = cluster.wait_converged()
    path = cluster.node(EDITED).config_path
    set_options(path, {"scheduling.queues.max_queue_depth": 321})  # written in place
    saved = time.monotonic()
    cluster.wait_for("the edited node to apply max_queue_depth = 321",
                     lambda: value_on(cluster, EDITED, "scheduling.queues.max_queue_depth") == 321,
                     timeout=10.0, interval=0.02)
    elapsed = time.monotonic() - saved
    assert elapsed <= LOCAL_DEADLINE_S, f"applied {elapsed:.2f}s after the save"
    # Local to that node: no revision, the other nodes keep their value.
    assert cluster.revision_and_hash(EDITED) == (revision, cluster_hash)
    assert value_on(cluster, 0, "scheduling.queues.max_queue_depth") == 100
    latest = cluster.client(EDITED).history(limit=1, scope="local")[0]
    assert (latest["action"], latest["initiator"]) == ("reload", f"file:{path}")


def test_rename_save_of_a_dynamic_consensus_option_commits_cluster_wide(
    cluster: LocalCluster,
) -> None:
    before, _ = cluster.wait_converged()
    path = cluster.node(EDITED).config_path
    save_by_rename(path, {"scheduling.policy": "round_robin",
                          "network.compression.level": 9})
    revision, _ = cluster.wait_converged(at_least=before + 1)
    assert revision == before + 1  # one update for the whole edit
    for index in range(cluster.size):
        assert value_on(cluster, index, "scheduling.policy") == "round_robin"
        assert value_on(cluster, index, "network.compression.level") == 9
    entry = cluster.client(0).history(limit=1)[0]
    assert (entry["action"], entry["initiator"]) == ("reload", f"file:{path}")
    assert sorted(c["path"] for c in entry["changes"]) == [
        "network.compression.level", "scheduling.policy"]


def entry_of(cluster: LocalCluster, asked: int) -> dict[str, Any]:
    """The edited node's entry in the cluster status of node `asked`."""
    nodes = cluster.client(asked).status()["nodes"]
    return next(n for n in nodes if n["node_id"] == cluster.node(EDITED).node_id)


def test_static_change_is_reported_in_cluster_status_and_not_applied(
    cluster: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    before = cluster.wait_converged()
    path = cluster.node(EDITED).config_path
    original = cluster.node(EDITED).api_addr
    version = value_on(cluster, EDITED, "metadata.config_version")
    set_options(path, {"network.api_addr": "127.0.0.1:1",
                       "metadata.config_version": "1.1.0"})
    cluster.wait_for("restart required in cluster status",
                     lambda: me(cluster)["restart_required"] == ["metadata.config_version",
                                                                 "network.api_addr"],
                     timeout=10.0)
    # Every node's status shows it: the edited node announces it in its heartbeats.
    cluster.wait_for("the other nodes to show the edited node's restart-required options",
                     lambda: all(entry_of(cluster, other)["restart_required"] == [
                         "metadata.config_version", "network.api_addr"] for other in (0, 2)),
                     timeout=10.0)
    # Not applied: the node still serves on its address, nothing was proposed.
    assert value_on(cluster, EDITED, "network.api_addr") == original
    assert value_on(cluster, EDITED, "metadata.config_version") == version
    assert cluster.wait_converged() == before
    log = cluster.log_tail(EDITED, 200)
    assert "restart required, not applied (static options)" in log
    assert 'network.api_addr ("' + original + '" -> "127.0.0.1:1")' in log
    out, _ = status_cli(cluster, capsys)
    assert "metadata.config_version, network.api_addr" in out
    set_options(path, {"network.api_addr": original, "metadata.config_version": version})
    cluster.wait_for("restart required cleared once the file is put back",
                     lambda: me(cluster)["restart_required"] == [], timeout=10.0)


def test_broken_save_changes_nothing_and_the_fix_applies(
    cluster: LocalCluster, capsys: pytest.CaptureFixture[str]
) -> None:
    before = cluster.wait_converged()
    path = cluster.node(EDITED).config_path
    good = path.read_text(encoding="utf-8")
    limit = value_on(cluster, EDITED, "resources.rate_limits.max_requests_per_sec")
    # A save that breaks the TOML halfway through an edit of two options.
    path.write_text(good + "\n[resources.rate_limits]\nmax_requests_per_sec = 777\n"
                    "[partition\nstrategy = 'load_balanced'\n", encoding="utf-8")
    error = cluster.wait_for("the broken save to be reported",
                             lambda: me(cluster)["reload_error"], timeout=10.0)
    assert str(path) in error and "invalid TOML" in error
    assert value_on(cluster, EDITED, "resources.rate_limits.max_requests_per_sec") == limit
    assert cluster.wait_converged() == before
    assert cluster.log_tail(EDITED, 200).count("does not load; nothing applied") == 1
    _, err = status_cli(cluster, capsys)
    assert f"node-{EDITED}: edited config file not applied: {path}" in err
    # The fix: both options apply (one on this node, one through the cluster).
    path.write_text(good + "\n[resources.rate_limits]\nmax_requests_per_sec = 777\n"
                    "[partition]\nstrategy = 'load_balanced'\n", encoding="utf-8")
    cluster.wait_for("the fixed file to apply on its node",
                     lambda: value_on(cluster, EDITED,
                                      "resources.rate_limits.max_requests_per_sec") == 777,
                     timeout=10.0)
    cluster.wait_converged(at_least=before[0] + 1)
    for index in range(cluster.size):
        assert value_on(cluster, index, "partition.strategy") == "load_balanced"
    assert me(cluster)["reload_error"] == ""
