"""The checker can fail: replicas broken on purpose are caught within the CI budget."""

from __future__ import annotations

from sim_broken_replicas import AppliesOnPrepareCertificate, VotesTwice

from butterfly_config.consensus.sim.explore import explore
from butterfly_config.consensus.sim.network import HOSTILE
from butterfly_config.consensus.sim.runner import SimParams, run_seed


def _first_violation(params: SimParams, seeds: range) -> tuple[int, list[str]] | None:
    for seed in seeds:
        result = run_seed(params, seed)
        if result.violations:
            return seed, result.violations
    return None


def test_applying_on_a_prepare_certificate_is_an_integrity_violation() -> None:
    params = SimParams(nodes=4, faulty=1, byzantine="none", network=HOSTILE,
                       replica_class=AppliesOnPrepareCertificate, count_bytes=False)
    found = _first_violation(params, range(20))
    assert found is not None, "the checker missed replicas applying without a commit round"
    _, violations = found
    assert any("[integrity]" in v and "certificate" in v for v in violations), violations


def test_voting_twice_is_caught_with_twins_coordinating() -> None:
    params = SimParams(nodes=4, faulty=1, byzantine="twins", network=HOSTILE, proposals=3,
                       replica_class=VotesTwice, count_bytes=False)
    found = _first_violation(params, range(300))
    assert found is not None, "the checker missed an honest replica signing two digests"
    _, violations = found
    assert any("[single-vote]" in v or "[agreement]" in v for v in violations), violations


def test_the_failing_run_names_its_seed_and_shows_a_trace() -> None:
    params = SimParams(nodes=4, faulty=1, byzantine="none", network=HOSTILE,
                       replica_class=AppliesOnPrepareCertificate, count_bytes=False)
    found = _first_violation(params, range(20))
    assert found is not None
    result = run_seed(params, found[0])
    text = result.describe()
    assert text.startswith(f"seed {found[0]}:")
    assert "VIOLATION" in text
    assert 10 <= len(result.trace) <= 50
    assert any("APPLY" in line for line in result.trace)


def test_exploration_catches_a_double_voter() -> None:
    result = explore(depth=6, replica_class=VotesTwice)
    assert result.violations, "exhaustive exploration missed a double vote"
    assert "signed two" in result.violations[0]
