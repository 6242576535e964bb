"""`butterfly cluster reset-reputation NODE --all` lifts an isolation on every member.

Node-3 first boots from a file whose revision 0 differs from the others'; its
STATUS messages contradict their committed revision 0, so each of them
isolates it. The operator fixes the file and restarts node-3 from an empty
store: it is now honest, but still isolated everywhere, because an isolated
member's messages are ignored and it can never earn its score back. The
reset lifts that on every node, and node-3's vote counts again.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from integration_harness import LocalCluster

from butterfly_config.cli.main import main
from butterfly_config.sources.toml_edit import set_options

# two pieces of evidence isolate a member (100 -> 50 -> 0), so the set-up is quick
OPTIONS = {"byzantine.reputation.critical_failure_penalty": 50.0}


def standing(cluster: LocalCluster, index: int, member: str) -> dict[str, Any]:
    status = cluster.client(index).status()
    return next(n for n in status["nodes"] if n["node_id"] == member)


def isolated_on(cluster: LocalCluster, indices: range, member: str) -> bool:
    return all(standing(cluster, i, member)["isolated"] for i in indices)


def test_reset_reputation_all_lifts_the_isolation_everywhere(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cluster = LocalCluster(tmp_path / "cluster", 4, options=OPTIONS)
    try:
        cluster.write()
        node_3 = cluster.node(3)
        right = node_3.config_path.read_text(encoding="utf-8")
        set_options(node_3.config_path, {"metadata.config_version": "9.9.9"})
        cluster.start(wait=False)
        for index in range(3):
            cluster.wait_ready(index)
        cluster.wait_for("node-3 to be isolated on nodes 0-2",
                         lambda: isolated_on(cluster, range(3), "node-3"), timeout=20)

        # the operator's fix: the right file, and an empty store to boot from its revision 0
        cluster.stop_node(3)
        node_3.config_path.write_text(right, encoding="utf-8")
        shutil.rmtree(node_3.home / "data" / "config")
        cluster.start_node(3)
        assert isolated_on(cluster, range(3), "node-3"), "fixed, but still isolated"

        code = main(["cluster", "reset-reputation", "node-3", "--all", "--url", cluster.url(0),
                     "--token", cluster.token])
        out = capsys.readouterr().out.splitlines()
        assert code == 0, out
        assert [line.split(":")[0] for line in out] == ["node-0", "node-1", "node-2", "node-3"]
        assert all(line.endswith("-> 100.00 (trusted)") for line in out), out
        for index in range(4):
            seen = standing(cluster, index, "node-3")
            assert seen["state"] != "isolated" and seen["reputation_state"] == "trusted", seen
        assert any(e["action"] == "reputation-reset" and e["actor"] == "dev-admin"
                   for e in cluster.audit(1))

        revision = cluster.client(0).set("scheduling.policy", "least_loaded")["revision"]
        cluster.wait_converged(at_least=revision)
        # node-3's vote counts again: without node-2 the quorum (3 of 4) needs it
        cluster.stop_node(2)
        revision = cluster.client(0).set("scheduling.policy", "round_robin")["revision"]
        cluster.wait_converged([0, 1, 3], at_least=revision)
    finally:
        cluster.stop()
