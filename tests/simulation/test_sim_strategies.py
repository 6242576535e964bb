"""The Byzantine strategies bite: honest members catch their lies as evidence."""

from __future__ import annotations

import pytest

from butterfly_config.consensus.sim.runner import SimParams, run_seeds

CAUGHT = ("equivocate", "stale_reports", "wrong_hash", "forge", "bogus_cert", "reject_all",
          "invalid_coordinator", "twins")


@pytest.mark.parametrize("strategy", CAUGHT)
def test_lies_leave_evidence_against_the_liar(strategy: str) -> None:
    summary = run_seeds(SimParams(byzantine=strategy, count_bytes=False), range(15))
    assert summary.ok
    assert summary.evidence_against_byzantine > 0


def test_a_silent_member_costs_view_changes_not_safety() -> None:
    summary = run_seeds(SimParams(byzantine="silent", count_bytes=False), range(15))
    assert summary.ok
    assert summary.view_changes > 0
    assert summary.evidence_against_byzantine == 0
