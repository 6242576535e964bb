"""Crashes of real node processes: SIGKILL during updates, catch-up, a lost store.

One 4-node cluster (f = 1) serves the module, with agreement and view-change
timeouts shortened so that a round waiting for a dead member, or a view change,
takes about a second. To kill a member *during* an update rather than
before or after it (an update takes milliseconds), a member is first paused
(SIGSTOP): the coordinator then waits for its vote until the prepare timeout,
and the kill lands inside that window.
"""

from __future__ import annotations

import re
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from integration_harness import LocalCluster

from butterfly_config.canonical import digest
from butterfly_config.client import RemoteRefused
from butterfly_config.consensus.certificates import Verifier
from butterfly_config.consensus.crypto import KeyRing
from butterfly_config.loader import ConfigLoader
from butterfly_config.node import documents
from butterfly_config.node.runtime import consensus_params, genesis_entry, load_signer

TIMEOUTS = {
    "byzantine.agreement.pre_prepare_timeout_ms": 500,
    "byzantine.agreement.prepare_timeout_ms": 1000,
    "byzantine.agreement.commit_timeout_ms": 1000,
    "byzantine.view_change.timeout_ms": 1500,
}
INSIDE_THE_ROUND_S = 0.3  # well inside the 1 s prepare timeout


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("faults") / "cluster", 4, options=TIMEOUTS) as local:
        yield local


@pytest.fixture(autouse=True)
def all_nodes_up(cluster: LocalCluster) -> Iterator[None]:
    """Each test starts and ends with every node running and converged."""
    yield
    cluster.heal()


def level(cluster: LocalCluster, index: int) -> int:
    document, _, _ = cluster.client(index).get()
    assert isinstance(document, dict)
    return int(document["network"]["compression"]["level"])


def in_background(call: Callable[[], Any]) -> tuple[threading.Thread, dict[str, Any]]:
    outcome: dict[str, Any] = {}

    def run() -> None:
        try:
            outcome["result"] = call()
        except Exception as exc:  # the caller asserts on it
            outcome["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def index_of(node_id: str) -> int:
    return int(node_id.rsplit("-", 1)[1])


def caught_up_revisions(log: str) -> set[int]:
    """Revisions named by the node's "caught up revisions A..B from P" log lines."""
    found: set[int] = set()
    for low, high in re.findall(r"caught up revisions (\d+)\.\.(\d+) from node-\d", log):
        found.update(range(int(low), int(high) + 1))
    return found


def verifier_for(cluster: LocalCluster, index: int) -> Verifier:
    """A certificate verifier built from a node's file, keys and members, outside the node."""
    path = cluster.node(index).config_path
    config = ConfigLoader().add_file(path).set_environ({}).load()
    params = consensus_params(config.model, load_signer(config.model, False), str(path.parent))
    keyring = KeyRing({m.node_id: m.public_key for m in params.members},
                      params.signing_algorithm)
    genesis = genesis_entry(params.cluster_name, documents.document_of(config))
    return Verifier(params, keyring, digest, genesis)


def test_sigkill_of_a_member_during_an_update_still_commits(cluster: LocalCluster) -> None:
    before, _ = cluster.wait_converged()
    coordinator = index_of(cluster.client(0).status()["coordinator"])
    victim = next(i for i in (3, 2, 1) if i != coordinator)
    origin = next(i for i in range(cluster.size) if i not in (coordinator, victim))
    cluster.pause(victim)
    thread, outcome = in_background(lambda: cluster.client(origin).set(
        "network.compression.level", 7))
    time.sleep(INSIDE_THE_ROUND_S)
    cluster.kill(victim)
    thread.join(30)
    assert "result" in outcome, outcome
    assert outcome["result"]["revision"] == before + 1
    survivors = [i for i in range(cluster.size) if i != victim]
    assert cluster.wait_converged(survivors, at_least=before + 1)[0] == before + 1
    assert all(level(cluster, i) == 7 for i in survivors)


def test_a_node_down_during_two_updates_catches_up_with_verified_certificates(
        cluster: LocalCluster) -> None:
    before, _ = cluster.wait_converged()
    cluster.kill(3)
    for value in (4, 5):
        cluster.client(1).set("network.compression.level", value)
    mark = len(cluster.log_text(3))
    cluster.start_node(3)
    head, cluster_hash = cluster.wait_converged(at_least=before + 2)
    assert head == before + 2 and level(cluster, 3) == 5
    assert caught_up_revisions(cluster.log_text(3)[mark:]) == {before + 1, before + 2}
    # What node-3 stored is the others' chain, and every certificate in it checks out
    # against the members' public keys.
    caught_up = cluster.stored_history(3)
    reference = cluster.stored_history(1)
    assert [d.entry for d in caught_up] == [d.entry for d in reference]
    verifier = verifier_for(cluster, 3)
    for decided in caught_up[1:]:
        assert decided.certificate is not None
        assert verifier.decided_problem(decided) is None, decided.entry.revision
    assert caught_up[-1].entry.doc_hash == cluster_hash
    # The check can fail: a certificate whose votes are for another entry does not verify.
    forged = type(caught_up[-1])(caught_up[-1].entry, caught_up[-2].certificate)
    assert verifier.decided_problem(forged) is not None


def test_sigkill_of_the_coordinator_mid_update_then_the_next_update_commits(
        cluster: LocalCluster) -> None:
    before, _ = cluster.wait_converged()
    status = cluster.client(0).status()
    coordinator = index_of(status["coordinator"])
    others = [i for i in range(cluster.size) if i != coordinator]
    slow, origin = others[-1], others[0]
    old_level = level(cluster, origin)
    cluster.pause(slow)
    thread, outcome = in_background(lambda: cluster.client(origin).set(
        "network.compression.level", 8))
    time.sleep(INSIDE_THE_ROUND_S)
    cluster.kill(coordinator)
    cluster.resume(slow)
    thread.join(40)
    assert not thread.is_alive()
    # Committed, or refused with nothing applied: either way the survivors agree.
    revision, _ = cluster.wait_converged(others, at_least=before)
    if "result" in outcome:
        assert outcome["result"]["revision"] == before + 1
        assert revision == before + 1
    else:
        assert getattr(outcome["error"], "status", None) in (409, 503), outcome
    assert all(level(cluster, i) == (8 if revision == before + 1 else old_level)
               for i in others)
    new_status = cluster.client(origin).status()
    assert new_status["view"] > status["view"]
    assert new_status["coordinator"] != status["coordinator"]
    # The next update commits under the new coordinator.
    result = cluster.client(origin).set("network.compression.level", 2)
    assert result["revision"] == revision + 1
    cluster.wait_converged(others, at_least=revision + 1)
    # The old coordinator comes back and catches up.
    cluster.start_node(coordinator)
    assert cluster.wait_converged(at_least=revision + 1)[0] == revision + 1
    assert level(cluster, coordinator) == 2


def test_without_a_quorum_an_update_is_503_and_the_cluster_agrees_afterwards(
        cluster: LocalCluster) -> None:
    before, _ = cluster.wait_converged()
    coordinator = index_of(cluster.client(0).status()["coordinator"])
    others = [i for i in range(cluster.size) if i != coordinator]
    origin, stopped = others[0], others[1:]
    for index in stopped:
        cluster.pause(index)
    started = time.monotonic()
    with pytest.raises(RemoteRefused) as refused:
        cluster.client(origin).set("network.compression.level", 9)
    assert refused.value.status == 503
    assert "no decision" in refused.value.message
    assert "may still commit" in refused.value.message
    assert time.monotonic() - started < 20
    assert cluster.revision_and_hash(origin)[0] == before
    for index in stopped:
        cluster.resume(index)
    # The timed-out update may still be finished once the members are back (nobody
    # refused it; while that runs, new requests are "busy"). Either way the next update
    # commits, all four agree, and the first one committed at most once, before it.
    result = cluster.wait_for("the next update to commit", lambda: cluster.client(origin).set(
        "network.compression.level", 1), timeout=30)
    revision, _ = cluster.wait_converged(at_least=result["revision"])
    assert revision == result["revision"]
    newer = sorted((e for e in cluster.client(origin).history(limit=10)
                    if e["revision"] > before), key=lambda e: e["revision"])
    assert [c["new"] for e in newer for c in e["changes"]] in ([1], [9, 1])
    assert revision == before + len(newer)
    # The origin's audit log agrees with the history: each of these revisions is its
    # own request, recorded as committed there, the first one (if it committed late)
    # with what its client had been told.
    match = re.search(r"request id is (\S+):", refused.value.message)
    assert match is not None, refused.value.message
    assert [e["request_id"] for e in newer][:-1] in ([], [match.group(1)])
    audited = {r["detail"]["revision"]: r for r in cluster.audit(origin)
               if r["outcome"] == "committed" and "revision" in r["detail"]}
    for entry in newer:
        record = audited[entry["revision"]]
        assert record["detail"]["request_id"] == entry["request_id"]
        assert record["detail"]["paths"] == ["network.compression.level"]
        late = entry["request_id"] == match.group(1)
        assert ("client_told" in record["detail"]) == late
        if late:
            assert record["detail"]["client_told"]["status"] == 503


def test_a_node_whose_store_was_deleted_rebuilds_from_peers(cluster: LocalCluster) -> None:
    head, cluster_hash = cluster.wait_converged(at_least=1)
    cluster.stop_node(2)
    shutil.rmtree(cluster.store_path(2).parent)
    mark = len(cluster.log_text(2))
    cluster.start_node(2)
    assert cluster.wait_converged(at_least=head) == (head, cluster_hash)
    log = cluster.log_text(2)[mark:]
    assert "holds no revisions" in log and "fetched from peers" in log
    assert caught_up_revisions(log) == set(range(1, head + 1))
    assert [d.entry for d in cluster.stored_history(2)] == [
        d.entry for d in cluster.stored_history(0)]
    # It takes part again: an update commits on all four.
    cluster.client(2).set("network.compression.level", 3)
    cluster.wait_converged(at_least=head + 1)
    assert level(cluster, 0) == 3
