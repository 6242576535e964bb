"""Phi-accrual failure detector (Hayashibara et al., 2004), pure: time is passed in.

Instead of a yes/no timeout, the detector turns the silence since a peer's
last heartbeat into a suspicion level `phi = -log10(P(a heartbeat comes even
later))`, with the inter-arrival times modelled as a normal distribution
whose mean and standard deviation come from a sliding window of the last
`max_history` arrivals. phi = 1 means a 10% chance the peer is fine, phi = 8
one in 10^8. Two thresholds turn phi into a state: `suspected` from
`suspect_threshold`, `failed` from `failed_threshold`.

Three choices keep it robust on real machines:
- The standard deviation has a floor (`min_std_ms`, and `min_std_intervals`
  times the peer's announced heartbeat interval). On a quiet loopback the
  measured deviation is a few milliseconds, which would make one late
  heartbeat look like a crash; the floor states how much jitter is normal.
- Gaps much longer than the expected interval (`max_sample_intervals`) are not
  recorded as samples: the peer was down or this node was stalled, and such a
  gap says nothing about normal arrival jitter (Cassandra's detector does the
  same). Without this, every pause would blunt detection for a long time.
- When a peer announces a new heartbeat interval its window restarts, so a
  peer that slows its heartbeats on purpose is not suspected for it.

The normal tail uses the logistic approximation Akka uses, written as
`phi = log10(1 + e^z)`, `z = y (1.5976 + 0.070566 y^2)`, `y = (t - mean) / std`,
which is monotone in `t` and never overflows.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field
from typing import Literal

DetectorState = Literal["alive", "suspected", "failed", "unknown"]

_LN10 = math.log(10.0)


@dataclass(frozen=True, slots=True)
class DetectorSettings:
    """byzantine.failure_detection, as the detector uses it."""

    suspect_threshold: float = 8.0
    failed_threshold: float = 12.0
    max_history: int = 1000
    min_std_ms: float = 50.0
    min_std_intervals: float = 2.0
    max_sample_intervals: float = 10.0

    def __post_init__(self) -> None:
        if not 0 < self.suspect_threshold < self.failed_threshold:
            raise ValueError("need 0 < suspect_threshold < failed_threshold")
        if self.max_history < 1:
            raise ValueError("max_history must be at least 1")
        if self.min_std_ms <= 0 or self.min_std_intervals < 0 or self.max_sample_intervals <= 1:
            raise ValueError("min_std_ms > 0, min_std_intervals >= 0, max_sample_intervals > 1")


def phi_of(elapsed_ms: float, mean_ms: float, std_ms: float) -> float:
    """Suspicion after `elapsed_ms` of silence for arrivals ~ Normal(mean, std)."""
    y = (elapsed_ms - mean_ms) / std_ms
    z = y * (1.5976 + 0.070566 * y * y)
    if z > 30.0:  # log10(1 + e^z) = z / ln 10 + log10(1 + e^-z), the last term < 1e-13
        return z / _LN10
    return math.log1p(math.exp(z)) / _LN10


@dataclass
class ArrivalWindow:
    """The last inter-arrival times of one peer, with running sums for O(1) statistics."""

    max_size: int
    expected_ms: float
    last_arrival_ms: float
    samples: deque[float] = field(default_factory=deque)
    _sum: float = 0.0
    _sum_sq: float = 0.0

    def add(self, interval_ms: float) -> None:
        self.samples.append(interval_ms)
        self._sum += interval_ms
        self._sum_sq += interval_ms * interval_ms
        self.trim(self.max_size)

    def trim(self, max_size: int) -> None:
        self.max_size = max_size
        while len(self.samples) > max_size:
            old = self.samples.popleft()
            self._sum -= old
            self._sum_sq -= old * old

    def clear(self) -> None:
        self.samples.clear()
        self._sum = self._sum_sq = 0.0

    @property
    def mean_ms(self) -> float:
        """The observed mean, or the announced interval while nothing was observed."""
        return self._sum / len(self.samples) if self.samples else self.expected_ms

    @property
    def std_ms(self) -> float:
        count = len(self.samples)
        if count < 2:
            return 0.0
        mean = self._sum / count
        return math.sqrt(max(0.0, self._sum_sq / count - mean * mean))


class PhiAccrualDetector:
    """Per-peer arrival windows and the phi, state and statistics derived from them."""

    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self._windows: dict[str, ArrivalWindow] = {}

    # -- inputs ---------------------------------------------------------------------
    def watch(self, peer: str, now_ms: float, expected_interval_ms: float) -> None:
        """Start judging a peer not heard from yet, as if it had just sent a heartbeat.

        Without this a peer that is down from the start would never be suspected.
        """
        if peer not in self._windows:
            self._windows[peer] = ArrivalWindow(
                self.settings.max_history, float(expected_interval_ms), float(now_ms)
            )

    def heartbeat(self, peer: str, now_ms: float, interval_ms: float | None = None) -> None:
        """A heartbeat from `peer` arrived at `now_ms`, announcing its sending interval."""
        window = self._windows.get(peer)
        if window is None:
            expected = float(interval_ms) if interval_ms else 1000.0
            self._windows[peer] = ArrivalWindow(self.settings.max_history, expected, float(now_ms))
            return
        gap = now_ms - window.last_arrival_ms
        if interval_ms and float(interval_ms) != window.expected_ms:
            # this gap still belongs to the old pace; the next ones to the new
            window.expected_ms = float(interval_ms)
            window.clear()
        elif 0 <= gap <= self.settings.max_sample_intervals * window.expected_ms:
            window.add(gap)
        window.last_arrival_ms = max(window.last_arrival_ms, float(now_ms))

    def forgive(self, now_ms: float) -> None:
        """This node itself stalled (paused process, blocked loop): restart every clock.

        The silence was ours, not the peers'; judging them by it would suspect
        everyone at once.
        """
        for window in self._windows.values():
            window.last_arrival_ms = max(window.last_arrival_ms, float(now_ms))

    def forget(self, peer: str) -> None:
        self._windows.pop(peer, None)

    def configure(self, settings: DetectorSettings) -> None:
        """New thresholds or history length, live; windows are trimmed, not cleared."""
        self.settings = settings
        for window in self._windows.values():
            window.trim(settings.max_history)

    # -- outputs --------------------------------------------------------------------
    def knows(self, peer: str) -> bool:
        return peer in self._windows

    def std_floor_ms(self, peer: str) -> float:
        window = self._windows.get(peer)
        expected = window.expected_ms if window is not None else 0.0
        return max(self.settings.min_std_ms, self.settings.min_std_intervals * expected)

    def statistics(self, peer: str) -> tuple[float, float, int] | None:
        """(mean, standard deviation with its floor, samples) of a watched peer."""
        window = self._windows.get(peer)
        if window is None:
            return None
        return window.mean_ms, max(window.std_ms, self.std_floor_ms(peer)), len(window.samples)

    def silence_ms(self, peer: str, now_ms: float) -> float | None:
        window = self._windows.get(peer)
        return None if window is None else max(0.0, now_ms - window.last_arrival_ms)

    def phi(self, peer: str, now_ms: float) -> float:
        """The suspicion level of `peer` at `now_ms` (0.0 for a peer not watched)."""
        window = self._windows.get(peer)
        if window is None:
            return 0.0
        elapsed = max(0.0, now_ms - window.last_arrival_ms)
        std = max(window.std_ms, self.std_floor_ms(peer))
        return phi_of(elapsed, window.mean_ms, std)

    def state(self, peer: str, now_ms: float) -> DetectorState:
        if peer not in self._windows:
            return "unknown"
        return self.state_of(self.phi(peer, now_ms))

    def state_of(self, phi: float) -> DetectorState:
        if phi >= self.settings.failed_threshold:
            return "failed"
        if phi >= self.settings.suspect_threshold:
            return "suspected"
        return "alive"

    def history_size(self, peer: str) -> int:
        window = self._windows.get(peer)
        return 0 if window is None else len(window.samples)
