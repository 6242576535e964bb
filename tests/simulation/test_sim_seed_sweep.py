"""The CI seed budget: 2,184 seeded runs over n in {4, 5, 7, 10} and every strategy.

Each run is short (two client proposals, a 2 s fault window on a hostile
network) and must keep every safety invariant and reach quiescence, with one
more valid change committed, after the network heals. Parametrized per
(n, strategy) so pytest shows progress and a failure names its setting; the
failing seeds are in the assertion message, ready to be added to
regression_seeds.py.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from butterfly_config.consensus.sim.byzantine import STRATEGY_NAMES
from butterfly_config.consensus.sim.network import HOSTILE
from butterfly_config.consensus.sim.runner import SimParams, run_seeds

SEEDS_PER_STRATEGY = {4: 80, 5: 40, 7: 24, 10: 12}
BEHAVIOURS = ("none", *STRATEGY_NAMES, "all")


def ci_params(nodes: int, byzantine: str) -> SimParams:
    return SimParams(
        nodes=nodes,
        faulty=(nodes - 1) // 3,
        byzantine=byzantine,
        network=HOSTILE,
        proposals=2,
        fault_window_ms=2000,
        liveness_bound_ms=30000,
        count_bytes=False,
    )


def test_the_budget_is_at_least_2000_seeds() -> None:
    assert sum(SEEDS_PER_STRATEGY.values()) * len(BEHAVIOURS) >= 2000


@pytest.mark.parametrize("byzantine", BEHAVIOURS)
@pytest.mark.parametrize("nodes", sorted(SEEDS_PER_STRATEGY))
def test_seeds_keep_safety_and_liveness(nodes: int, byzantine: str) -> None:
    count = SEEDS_PER_STRATEGY[nodes]
    start = 1000 * nodes  # different seeds for every n, the same across strategies
    summary = run_seeds(ci_params(nodes, byzantine), range(start, start + count))
    report = "\n\n".join(r.describe() for r in summary.failures[:2])
    assert summary.ok, (
        f"n={nodes} byzantine={byzantine}: violations in seeds {summary.violation_seeds}, "
        f"liveness failures in seeds {summary.liveness_seeds}\n{report}"
    )
    assert summary.runs == count
    assert summary.commits > 0


@pytest.mark.parametrize("byzantine", ["none", "all", "equivocate", "twins"])
@pytest.mark.parametrize("nodes", [4, 7])
def test_a_wrong_failure_detector_never_breaks_safety(nodes: int, byzantine: str) -> None:
    """The node tells coordinators which members look down; that advice may be wrong."""
    if byzantine not in BEHAVIOURS:
        pytest.fail(f"unknown strategy {byzantine}; known: {BEHAVIOURS}")
    count = 30 if nodes == 4 else 15
    start = 50_000 + 1000 * nodes
    params = replace(ci_params(nodes, byzantine), erratic_detector=True)
    summary = run_seeds(params, range(start, start + count))
    report = "\n\n".join(r.describe() for r in summary.failures[:2])
    assert summary.ok, (
        f"n={nodes} byzantine={byzantine} erratic detector: violations in seeds "
        f"{summary.violation_seeds}, liveness failures in seeds {summary.liveness_seeds}\n{report}"
    )
    assert summary.commits > 0


@pytest.mark.parametrize(("nodes", "protocol"), [
    (4, "optimistic_pbft"), (4, "standard_pbft"), (7, "optimistic_pbft")])
def test_a_coordinator_that_crashes_between_its_finalize_and_its_write_breaks_nothing(
    nodes: int, protocol: str,
) -> None:
    """The node sends a FINALIZE before it stores the revision itself (state.precedes_write):
    crashes aimed at that moment keep every invariant, and the coordinator, restarted
    without the revision, gets it back from its peers."""
    count = 60 if nodes == 4 else 30
    start = 70_000 + 1000 * nodes
    params = replace(ci_params(nodes, "all"), protocol=protocol, crashes_after_finalize=True)
    summary = run_seeds(params, range(start, start + count))
    report = "\n\n".join(r.describe() for r in summary.failures[:2])
    assert summary.ok, (
        f"n={nodes} {protocol} crashes after FINALIZE: violations in seeds "
        f"{summary.violation_seeds}, liveness failures in seeds {summary.liveness_seeds}\n{report}"
    )
    assert summary.crash_points["after a FINALIZE, restarted in the fault window"] > 0, (
        summary.crash_points)
    assert summary.commits > 0
