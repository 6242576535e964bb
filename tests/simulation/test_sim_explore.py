"""Bounded exhaustive exploration: n=4, f=1, an equivocating coordinator, two proposals."""

from __future__ import annotations

from butterfly_config.consensus.sim.explore import explore


def test_every_interleaving_up_to_depth_8_keeps_agreement() -> None:
    result = explore(depth=8)
    print(f"explored {result.states} states, {result.transitions} transitions")
    assert result.violations == []
    assert result.states > 20_000
    # the liar's two stories can each win in some interleaving, never both in one
    assert len(result.digests_decided) == 2
    assert result.decided_runs > 0


def test_interleavings_with_view_changes_keep_agreement() -> None:
    # timeouts make the space too large to finish here: the first 8,000 states, depth first
    result = explore(depth=40, timeouts=2, max_states=8000)
    assert result.violations == []
    assert result.highest_view >= 1
