"""Replay every seed that ever failed (tests/simulation/regression_seeds.py)."""

from __future__ import annotations

import pytest
from regression_seeds import REGRESSION_SEEDS, FailedSeed

from butterfly_config.consensus.sim.network import PROFILES
from butterfly_config.consensus.sim.runner import SimParams, run_seed


@pytest.mark.parametrize(
    "case", REGRESSION_SEEDS, ids=lambda c: f"n{c.nodes}-{c.byzantine}-{c.seed}"
)
def test_seed_that_once_failed_passes(case: FailedSeed) -> None:
    params = SimParams(
        nodes=case.nodes,
        faulty=case.faulty,
        byzantine=case.byzantine,
        network=PROFILES[case.network],
        count_bytes=False,
    )
    result = run_seed(params, case.seed)
    assert result.ok, result.describe()
