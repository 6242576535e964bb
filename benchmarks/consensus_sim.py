"""Consensus cost on the deterministic simulator: messages and CPU time per commit.

Normal case: a calm network, every member honest, one client change at a time
proposed at the coordinator. Messages are counted from the proposal until every
member has applied it; the periodic STATUS heartbeat is left out (it does not
depend on commits). The floor to compare with is all-to-all PBFT, whose PREPARE
and COMMIT rounds cost about 2n^2 messages per decision: our rounds go through
the coordinator, so the count grows with n, not n^2. CPU time is process time
per commit of the whole simulated cluster (all n replicas, signatures included).

Run standalone: python -m benchmarks.consensus_sim [--quick]
"""

from __future__ import annotations

import sys
import time
from collections import Counter

from benchmarks.report import Figure
from butterfly_config.consensus.sim.network import CALM
from butterfly_config.consensus.sim.runner import SimParams, Simulation

BACKGROUND = {"STATUS"}


def measure(nodes: int, commits: int, protocol: str = "optimistic_pbft") -> tuple[float, float]:
    """(messages per commit, CPU seconds per commit) for `commits` changes in a row."""
    params = SimParams(nodes=nodes, faulty=(nodes - 1) // 3, byzantine="none", network=CALM,
                       proposals=0, probe=False, protocol=protocol, count_bytes=False,
                       vetoes=False)
    sim = Simulation(params, seed=nodes)
    sim.boot()
    coordinator = sim.world.members[0]
    messages: Counter[str] = Counter()
    cpu = 0.0
    for k in range(commits):
        target = k + 1
        before = Counter(sim.sent_by_type)
        start = time.process_time()
        sim.submit(coordinator, f"bench-{k}", b"cfg-bench-%d" % k, sim.queue.now_ms)
        applied = sim.run_until(
            lambda t=target: all(  # type: ignore[misc]
                i.replica is not None and i.replica.head_revision >= t
                for i in sim.instances.values()
            ),
            sim.queue.now_ms + 60_000,
        )
        cpu += time.process_time() - start
        if not applied or sim.checker.violations:
            raise RuntimeError(f"n={nodes}: commit {k} did not complete cleanly")
        messages += sim.sent_by_type - before
    total = sum(v for kind, v in messages.items() if kind not in BACKGROUND)
    return total / commits, cpu / commits


def run(quick: bool = False) -> list[Figure]:
    commits = 5 if quick else 30
    figures = []
    for nodes in (4, 7, 10, 31):
        per_commit, cpu = measure(nodes, commits if nodes < 31 else max(3, commits // 3))
        pbft = 2 * nodes * nodes
        figures.append(Figure(
            f"messages per commit, n={nodes} (fast path)", per_commit, "msgs",
            ratio=per_commit / pbft, target="< 2n^2 (all-to-all PBFT)",
            note=f"msgs/n = {per_commit / nodes:.2f}, msgs/n^2 = {per_commit / nodes**2:.3f}",
        ))
        slow, _ = measure(nodes, max(3, commits // 3), "standard_pbft")
        figures.append(Figure(
            f"messages per commit, n={nodes} (commit round)", slow, "msgs",
            ratio=slow / pbft, target="< 2n^2 (all-to-all PBFT)",
            note=f"msgs/n = {slow / nodes:.2f}, msgs/n^2 = {slow / nodes**2:.3f}",
        ))
        if nodes in (4, 31):
            figures.append(Figure(
                f"simulated commit CPU time, n={nodes}", cpu * 1000, "ms",
                note="all n replicas in one process, ed25519 signing and verification",
            ))
    return figures


if __name__ == "__main__":
    from benchmarks.report import table

    print(table("Consensus core (simulated network)", run(quick="--quick" in sys.argv)))
