"""Chaos: random updates while random members are killed, restarted, paused and resumed.

A bounded loop (CHAOS_SECONDS) on a 4-node cluster (f = 1): every round picks
an update through a random healthy member and, from a seeded random
generator, at most one fault in flight at a time (SIGKILL then restart later,
or SIGSTOP then SIGCONT later), timed to land while the update is being
agreed. At the end, with everyone back, every node must be on the same
revision and hash, hold the same hash-chained history, contain every revision
that was acknowledged, and no update or revision may have been applied twice.

The seed is printed (shown on failure); rerun one with BUTTERFLY_CHAOS_SEED=N.
"""

from __future__ import annotations

import collections
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from integration_harness import LocalCluster

from butterfly_config.errors import ButterflyError

SEED = int(os.environ.get("BUTTERFLY_CHAOS_SEED", "20260529"))
CHAOS_SECONDS = float(os.environ.get("BUTTERFLY_CHAOS_SECONDS", "50"))
PATH = "observability.metrics.export_interval_secs"
OPTIONS = {
    "byzantine.agreement.pre_prepare_timeout_ms": 500,
    "byzantine.agreement.prepare_timeout_ms": 1000,
    "byzantine.agreement.commit_timeout_ms": 1500,
    "byzantine.view_change.timeout_ms": 2000,
}
APPLIED = re.compile(r"applied revision (\d+) \(")


@dataclass
class Chaos:
    cluster: LocalCluster
    rng: random.Random
    faulted: dict[int, str] = field(default_factory=dict)  # index -> killed | paused | starting
    acknowledged: dict[int, int] = field(default_factory=dict)  # value -> revision
    uncertain: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def plan_fault(self) -> tuple[Callable[[], None], int] | None:
        """The next fault action (drawn now, run later on a timer) and its node, or None."""
        if self.faulted:
            index, kind = next(iter(self.faulted.items()))
            if kind == "starting" or self.rng.random() < 0.5:
                return None  # let the fault last a while
            if kind == "paused":
                self.faulted.pop(index)
                return lambda: self._do(f"resume node-{index}", self.cluster.resume, index), index
            self.faulted[index] = "starting"
            return lambda: self._do(f"restart node-{index}",
                                    lambda i: self.cluster.start_node(i, wait=False), index), index
        if self.rng.random() < 0.4:
            return None
        index = self.rng.randrange(self.cluster.size)
        if self.rng.random() < 0.5:  # the coordinator half of the time: view changes
            index = self.coordinator(default=index)
        if self.rng.random() < 0.5:
            self.faulted[index] = "killed"
            return lambda: self._do(f"SIGKILL node-{index}", self.cluster.kill, index), index
        self.faulted[index] = "paused"
        return lambda: self._do(f"SIGSTOP node-{index}", self.cluster.pause, index), index

    def coordinator(self, default: int) -> int:
        try:
            named = self.cluster.client(self.rng.choice(self.healthy())).status()["coordinator"]
        except (ButterflyError, httpx.HTTPError, KeyError):
            return default
        return next((n.index for n in self.cluster.layout.nodes if n.node_id == named), default)

    def healthy(self, busy: set[int] | frozenset[int] = frozenset()) -> list[int]:
        return [i for i in range(self.cluster.size) if i not in self.faulted and i not in busy]

    def _do(self, what: str, action: Callable[[int], None], index: int) -> None:
        self.events.append(f"{time.monotonic():.1f} {what}")
        action(index)

    def settle_starting(self) -> None:
        for index, kind in list(self.faulted.items()):
            if kind == "starting" and self.is_ready(index):
                self.faulted.pop(index)

    def is_ready(self, index: int) -> bool:
        try:
            with self.cluster.http(timeout=0.5) as http:
                return http.get(f"{self.cluster.url(index)}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def update(self, value: int, busy: set[int]) -> None:
        """Through a random member that is neither faulted nor about to change."""
        target = self.rng.choice(self.healthy(busy))
        try:
            result = self.cluster.client(target).set(PATH, value)
        except (ButterflyError, httpx.HTTPError) as exc:
            self.uncertain.append(value)
            self.events.append(f"{time.monotonic():.1f} update {value} via node-{target}: "
                               f"{type(exc).__name__}: {exc}")
            return
        self.acknowledged[value] = int(result["revision"])


@pytest.fixture
def chaos_cluster(tmp_path: Any) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path / "cluster", 4, options=OPTIONS) as local:
        yield local


def settled_histories(cluster: LocalCluster) -> tuple[int, str, list[list[dict[str, Any]]]]:
    """Every node's history once they agree on the head.

    An update reported as uncertain ("may still commit") can commit after the
    nodes first converge, even between two nodes' history reads: read again
    until all heads are the converged revision.
    """
    everyone = list(range(cluster.size))
    revision, cluster_hash = cluster.wait_converged(everyone, timeout=60)
    for _ in range(20):
        histories = [cluster.client(i).history(limit=1000) for i in everyone]
        heads = {history[0]["revision"] for history in histories}
        if heads == {revision}:
            return revision, cluster_hash, histories
        revision, cluster_hash = cluster.wait_converged(everyone, at_least=max(heads),
                                                        timeout=60)
    raise AssertionError("the cluster kept committing after the chaos stopped")


def test_chaos_keeps_every_node_on_one_history(chaos_cluster: LocalCluster) -> None:
    cluster = chaos_cluster
    print(f"chaos seed {SEED} (rerun with BUTTERFLY_CHAOS_SEED={SEED})")
    chaos = Chaos(cluster, random.Random(SEED))
    deadline = time.monotonic() + CHAOS_SECONDS
    value = 1000
    while time.monotonic() < deadline:
        planned = chaos.plan_fault()
        timer = threading.Timer(chaos.rng.uniform(0.0, 0.4), planned[0]) if planned else None
        if timer is not None:
            timer.start()
        value += 1
        chaos.update(value, busy={planned[1]} if planned else set())
        if timer is not None:
            timer.join()
        chaos.settle_starting()
        time.sleep(chaos.rng.uniform(0.0, 0.3))

    faults = sum(1 for e in chaos.events if "SIG" in e)
    print(f"{len(chaos.acknowledged)} updates acknowledged, {len(chaos.uncertain)} uncertain, "
          f"{faults} faults:\n" + "\n".join(chaos.events))
    context = f"seed {SEED}; events:\n" + "\n".join(chaos.events[-40:])
    for index, kind in list(chaos.faulted.items()):
        if kind == "paused":
            cluster.resume(index)
        elif kind == "killed":
            cluster.start_node(index, wait=False)
    for index in range(cluster.size):
        cluster.wait_ready(index, timeout=60)
    revision, cluster_hash, histories = settled_histories(cluster)
    print(f"converged on revision {revision}, view {cluster.client(0).status()['view']}")
    assert len(chaos.acknowledged) >= 10, f"too few updates committed ({context})"

    reference = [(e["revision"], e["cluster_hash"], e["entry_digest"]) for e in histories[0]]
    assert [r[0] for r in reference] == list(range(revision, -1, -1)), context
    assert reference[0][1] == cluster_hash, context
    for index, history in enumerate(histories[1:], start=1):
        mine = [(e["revision"], e["cluster_hash"], e["entry_digest"]) for e in history]
        assert mine == reference, f"node-{index} holds another history ({context})"

    set_by: dict[int, list[int]] = collections.defaultdict(list)
    for entry in histories[0]:
        for change in entry["changes"]:
            if change["path"] == PATH:
                set_by[int(change["new"])].append(entry["revision"])
    for acknowledged, at in chaos.acknowledged.items():
        assert set_by.get(acknowledged) == [at], \
            f"update {acknowledged} acknowledged at {at}, in history at {set_by.get(acknowledged)}"
    assert all(len(at) == 1 for at in set_by.values()), f"an update committed twice ({context})"
    assert set(set_by) <= set(chaos.acknowledged) | set(chaos.uncertain), context

    for node in cluster.layout.nodes:
        log = (node.home / "log" / "node.log").read_text(encoding="utf-8", errors="replace")
        applied = collections.Counter(int(m) for m in APPLIED.findall(log))
        twice = sorted(r for r, count in applied.items() if count > 1)
        assert not twice, f"{node.node_id} applied revisions {twice} twice ({context})"

    # every member is honest here: crashes, pauses and restarts are no misbehaviour, so
    # none may hold critical evidence against another, nor see another diverge
    for index in range(cluster.size):
        accused = [(r["action"], r["outcome"], r["detail"]) for r in cluster.audit(index)
                   if (r["action"] == "evidence" and r["detail"].get("critical", True))
                   or r["action"] == "divergence"]
        assert not accused, f"node-{index} accused honest members: {accused[:3]} ({context})"
