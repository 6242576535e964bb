"""A cluster restarted after one node's file changed a static-critical option.

The audit's scenario: revision 1 commits, node-1's file gets another
`metadata.config_version`, and the whole cluster restarts. Node-1 used to take
its stored revision 0 for damage (it differs from revision 0 of the edited
file), delete its whole committed history and exit with a traceback on every
start. The committed history must stay; the node refuses to become ready,
naming the option; with the file put back it comes back on its last committed
revision.
"""

from __future__ import annotations

from typing import Any

from integration_harness import LocalCluster

from butterfly_config.sources.toml_edit import set_options

EDITED = 1
OPTION = "metadata.config_version"


def readiness(cluster: LocalCluster, index: int) -> tuple[int, dict[str, Any]]:
    with cluster.http(timeout=2.0) as http:
        response = http.get(f"{cluster.url(index)}/readyz")
        return response.status_code, response.json()


def own_entry(cluster: LocalCluster, index: int) -> dict[str, Any]:
    nodes = cluster.client(index).status()["nodes"]
    return next(n for n in nodes if n["node_id"] == cluster.node(index).node_id)


def restart_all(cluster: LocalCluster) -> None:
    """Stop every node, then start them again on the same files and stores."""
    cluster.stop()
    for index in range(cluster.size):
        cluster.start_node(index, wait=False)


def test_an_edited_static_option_keeps_the_history_and_the_node_out_of_ready(
        cluster: LocalCluster) -> None:
    revision = cluster.client(0).set("scheduling.policy", "round_robin")["revision"]
    committed = cluster.wait_converged(at_least=revision)
    before = cluster.stored_history(EDITED)
    assert [d.entry.revision for d in before] == list(range(revision + 1))
    path = cluster.node(EDITED).config_path
    original = path.read_text(encoding="utf-8")
    set_options(path, {OPTION: "1.0.1"})
    mark = len(cluster.log_text(EDITED))

    restart_all(cluster)
    for index in (0, 2, 3):
        cluster.wait_ready(index)
    cluster.wait_for("node-1 to say why it is not ready",
                     lambda: OPTION in readiness(cluster, EDITED)[1]["reason"], timeout=30)
    status, body = readiness(cluster, EDITED)
    assert status == 503 and body["ready"] is False
    assert '"1.0.1"' in body["reason"] and "put the file's values back" in body["reason"].lower()
    assert EDITED in cluster.running(), cluster.log_tail(EDITED)
    # Nothing committed was deleted, and the node runs on the committed configuration.
    assert cluster.stored_history(EDITED) == before
    assert cluster.revision_and_hash(EDITED) == committed
    log = cluster.log_text(EDITED)[mark:]
    assert "damaged" not in log and "holds no revisions" not in log
    assert f"differ from the committed configuration (revision {revision}): {OPTION}" in log
    assert "not becoming ready" in log
    # cluster status says why, on the node itself and on the others (heartbeats)
    own = own_entry(cluster, EDITED)
    assert OPTION in own["restart_required"] and OPTION in own["not_ready"]
    cluster.wait_for("node-0 to list node-1's option as restart-required",
                     lambda: OPTION in next(
                         n for n in cluster.client(0).status()["nodes"]
                         if n["node_id"] == cluster.node(EDITED).node_id)["restart_required"],
                     timeout=15)

    # The file put back and the node restarted: it is ready on its last committed revision.
    path.write_text(original, encoding="utf-8")
    cluster.restart(EDITED)
    assert cluster.wait_converged() == committed
    assert cluster.stored_history(EDITED) == before
    assert own_entry(cluster, EDITED)["restart_required"] == []
    # and it takes part again
    newer = cluster.client(EDITED).set("scheduling.policy", "least_loaded")["revision"]
    assert cluster.wait_converged(at_least=newer)[0] == revision + 1
