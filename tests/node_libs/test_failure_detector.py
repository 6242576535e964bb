"""The phi-accrual detector: phi values, states, windows, stalls and live settings."""

from __future__ import annotations

import itertools
import math
import statistics

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from butterfly_config.node.failure_detector import (
    DetectorSettings,
    PhiAccrualDetector,
    phi_of,
)

intervals = st.lists(st.floats(min_value=1.0, max_value=1000.0), min_size=0, max_size=60)


def fed(gaps: list[float], expected: float = 100.0,
        config: DetectorSettings | None = None) -> tuple[PhiAccrualDetector, float]:
    """A detector that heard heartbeats from "p" at the given gaps; returns it and the last time."""
    detector = PhiAccrualDetector(config or DetectorSettings())
    now = 0.0
    detector.heartbeat("p", now, expected)
    for gap in gaps:
        now += gap
        detector.heartbeat("p", now, expected)
    return detector, now


def test_phi_matches_the_normal_tail() -> None:
    # one standard deviation late: P(later) ~ 0.159, phi ~ 0.8
    assert phi_of(200.0, 100.0, 100.0) == pytest.approx(-math.log10(0.1587), abs=0.02)
    # on time: half the mass is later
    assert phi_of(100.0, 100.0, 100.0) == pytest.approx(math.log10(2), abs=1e-9)
    # very late: large and finite, never an overflow
    assert 1000 < phi_of(1e6, 100.0, 10.0) < math.inf


def test_states_follow_the_thresholds() -> None:
    config = DetectorSettings(suspect_threshold=8.0, failed_threshold=12.0)
    detector, last = fed([100.0] * 50, config=config)
    assert detector.state("p", last + 50) == "alive"
    times = [last + t for t in range(0, 5000, 10)]
    states = [detector.state("p", t) for t in times]
    first_suspected = states.index("suspected")
    first_failed = states.index("failed")
    assert 0 < first_suspected < first_failed
    assert detector.phi("p", times[first_suspected]) >= 8.0
    assert detector.phi("p", times[first_failed]) >= 12.0
    assert detector.phi("p", times[first_failed - 1]) < 12.0
    assert detector.state("nobody", last) == "unknown"
    assert detector.phi("nobody", last) == 0.0


def test_the_std_floor_sets_the_detection_time() -> None:
    # perfectly regular 100 ms heartbeats: the floor (2 intervals = 200 ms) decides
    detector, last = fed([100.0] * 200)
    mean, std, count = detector.statistics("p") or (0, 0, 0)
    assert (mean, std, count) == (pytest.approx(100.0), 200.0, 200)
    failed_after = next(t for t in range(0, 10_000, 5) if detector.phi("p", last + t) >= 12.0)
    assert 1200 <= failed_after <= 1500


def test_window_is_bounded_and_statistics_are_exact() -> None:
    gaps = [float(50 + (i * 37) % 90) for i in range(300)]
    detector, _ = fed(gaps, config=DetectorSettings(max_history=64, min_std_ms=0.001,
                                                    min_std_intervals=0.0))
    assert detector.history_size("p") == 64
    mean, std, _ = detector.statistics("p") or (0, 0, 0)
    assert mean == pytest.approx(statistics.mean(gaps[-64:]))
    assert std == pytest.approx(statistics.pstdev(gaps[-64:]), rel=1e-6)


def test_long_gaps_are_not_samples() -> None:
    detector, last = fed([100.0] * 20)
    detector.heartbeat("p", last + 60_000, 100)  # the peer was down for a minute
    mean, _, count = detector.statistics("p") or (0, 0, 0)
    assert count == 20 and mean == pytest.approx(100.0)
    assert detector.phi("p", last + 60_000) < 1.0


def test_a_new_announced_interval_restarts_the_window() -> None:
    detector, last = fed([100.0] * 30)
    detector.heartbeat("p", last + 100, 500)  # the peer backs off to 500 ms
    assert detector.history_size("p") == 0
    # 450 ms of silence is normal for a 500 ms sender, though 4.5 old intervals
    assert detector.state("p", last + 100 + 450) == "alive"


def test_watch_judges_a_peer_never_heard_from() -> None:
    detector = PhiAccrualDetector()
    detector.watch("silent", 1000.0, 100)
    assert detector.state("silent", 1050.0) == "alive"
    assert detector.state("silent", 1000.0 + 5000) == "failed"
    detector.watch("silent", 9000.0, 100)  # watching again does not reset the clock
    assert detector.state("silent", 9000.0) == "failed"


def test_forgive_restarts_every_clock_after_a_local_stall() -> None:
    detector, last = fed([100.0] * 30)
    detector.watch("q", 0.0, 100)
    stalled = last + 10_000
    assert detector.state("p", stalled) == "failed"
    detector.forgive(stalled)
    assert detector.state("p", stalled) == "alive"
    assert detector.state("q", stalled + 50) == "alive"


def test_configure_changes_thresholds_and_trims_history_live() -> None:
    detector, last = fed([100.0] * 100)
    probe = last + 700
    before = detector.phi("p", probe)
    assert detector.state("p", probe) == "alive"
    detector.configure(DetectorSettings(suspect_threshold=1.0, failed_threshold=2.0,
                                        max_history=10))
    assert detector.history_size("p") == 10
    assert detector.phi("p", probe) == pytest.approx(before)
    assert detector.state("p", probe) == "failed"


@pytest.mark.parametrize("kwargs", [
    {"suspect_threshold": 12.0, "failed_threshold": 8.0},
    {"suspect_threshold": 0.0, "failed_threshold": 8.0},
    {"max_history": 0},
    {"min_std_ms": 0.0},
])
def test_bad_settings_are_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        DetectorSettings(**kwargs)  # type: ignore[arg-type]


# -- properties ----------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(gaps=intervals, waits=st.lists(st.floats(min_value=0.0, max_value=1e5), min_size=2,
                                      max_size=20))
def test_phi_is_monotone_while_silent(gaps: list[float], waits: list[float]) -> None:
    detector, last = fed(gaps)
    values = [detector.phi("p", last + w) for w in sorted(waits)]
    assert all(a <= b for a, b in itertools.pairwise(values))
    assert all(v >= 0.0 and math.isfinite(v) for v in values)


@settings(max_examples=200, deadline=None)
@given(gaps=intervals, expected=st.floats(min_value=1.0, max_value=2000.0))
def test_a_heartbeat_always_clears_suspicion(gaps: list[float], expected: float) -> None:
    detector, last = fed(gaps, expected)
    # at the moment of arrival the silence is zero, below the mean: phi <= log10(2)
    assert detector.phi("p", last) <= math.log10(2) + 1e-9
    assert detector.state("p", last) == "alive"


@settings(max_examples=150, deadline=None)
@given(gaps=intervals, max_history=st.integers(min_value=1, max_value=40),
       wait=st.floats(min_value=0.0, max_value=1e5))
def test_window_bound_and_state_consistency(gaps: list[float], max_history: int,
                                            wait: float) -> None:
    config = DetectorSettings(max_history=max_history)
    detector, last = fed(gaps, config=config)
    assert detector.history_size("p") <= max_history
    phi = detector.phi("p", last + wait)
    state = detector.state("p", last + wait)
    assert (state == "failed") == (phi >= config.failed_threshold)
    assert (state == "suspected") == (config.suspect_threshold <= phi < config.failed_threshold)


@settings(max_examples=100, deadline=None)
@given(gaps=intervals, wait=st.floats(min_value=0.0, max_value=5000.0),
       raise_by=st.floats(min_value=0.0, max_value=500.0))
def test_a_wider_floor_never_raises_phi_for_late_peers(gaps: list[float], wait: float,
                                                       raise_by: float) -> None:
    """A larger minimum deviation makes the detector more tolerant, never less, once late."""
    narrow, last = fed(gaps, config=DetectorSettings(min_std_ms=10.0, min_std_intervals=0.0))
    wide, _ = fed(gaps, config=DetectorSettings(min_std_ms=10.0 + raise_by,
                                                min_std_intervals=0.0))
    mean = (narrow.statistics("p") or (0.0, 0.0, 0))[0]
    if wait >= mean:
        assert wide.phi("p", last + wait) <= narrow.phi("p", last + wait) + 1e-9
