"""An update taken by a member that has not applied the latest commit yet.

The member builds its whole cluster document from the head it has. Before the
fix, the coordinator proposed that document on top of the newer head, and the
options the newer revision had changed were silently set back. Now the request
names the revision it was built for: the coordinator refuses it as stale, the
member catches up, builds the change again on the new head, and both changes
survive.
"""

from __future__ import annotations

import httpx
from integration_harness import LocalCluster

LEVEL = "network.compression.level"
IDLE = "network.connection.idle_timeout_ms"


def test_a_change_taken_by_a_lagging_member_does_not_undo_newer_ones(
        cluster: LocalCluster) -> None:
    lagging = 3
    start = cluster.wait_converged()[0]
    before = cluster.client(lagging).get()[0]
    assert isinstance(before, dict)
    old_level = before["network"]["compression"]["level"]
    new_level = 11 if old_level != 11 else 12

    cluster.cut_off(lagging)
    committed = cluster.client(0).set(LEVEL, new_level)
    assert committed["revision"] == start + 1
    assert cluster.revision_and_hash(lagging)[0] == start  # it has not seen it

    cluster.cut_off(None)
    with httpx.Client(timeout=30, trust_env=False,
                      headers={"Authorization": f"Bearer {cluster.token}"},
                      verify=cluster.verify) as http:
        # sent at once, before the lagging member has heard of revision start + 1
        response = http.patch(f"{cluster.url(lagging)}/api/v1/config", json={
            "operations": [{"op": "set", "path": IDLE, "value": 45678}]})
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == start + 2

    # the first attempt was refused as stale (made against revision `start`), the second
    # was built again on revision start + 1
    stale = [r for r in cluster.audit(lagging) if r["outcome"] == "stale"]
    assert stale and f"made against revision {start}," in stale[-1]["detail"]["reason"]

    head = cluster.wait_converged(at_least=start + 2)
    assert head[0] == start + 2
    for index in range(cluster.size):
        document = cluster.client(index).get()[0]
        assert isinstance(document, dict)
        assert document["network"]["compression"]["level"] == new_level, index
        assert document["network"]["connection"]["idle_timeout_ms"] == 45678, index


def test_a_lagging_member_rolls_back_to_a_revision_it_has_not_received_yet(
        cluster: LocalCluster) -> None:
    """The operator saw revision N in another node's history; the member it asks has
    not received N yet. It catches up first instead of answering "no revision matches"."""
    lagging = 3
    start = cluster.wait_converged()[0]
    cluster.cut_off(lagging)
    cluster.client(0).set(LEVEL, 11)
    cluster.client(0).set(LEVEL, 12)
    assert cluster.revision_and_hash(lagging)[0] == start

    cluster.cut_off(None)
    result = cluster.client(lagging).rollback(start + 1)  # at once, before it catches up
    assert result["revision"] == start + 3

    cluster.wait_converged(at_least=start + 3)
    for index in range(cluster.size):
        document = cluster.client(index).get()[0]
        assert isinstance(document, dict)
        assert document["network"]["compression"]["level"] == 11, index
