"""Virtual clock and event queue of the simulator.

Every event carries the virtual time it fires at and a sequence number, so two
events at the same millisecond always pop in the order they were scheduled:
the heap never compares payloads and a run never depends on dict or hash order.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Generic, TypeVar

T = TypeVar("T")


@dataclass(order=True, frozen=True, slots=True)
class Scheduled(Generic[T]):
    """One queued event: ordered by (time, seq) only."""

    at_ms: int
    seq: int
    event: T = field(compare=False)


class EventQueue(Generic[T]):
    """A min-heap of events keyed by virtual time; `now_ms` is the clock."""

    def __init__(self) -> None:
        self._heap: list[Scheduled[T]] = []
        self._seq = 0
        self.now_ms = 0

    def __len__(self) -> int:
        return len(self._heap)

    def schedule(self, at_ms: int, event: T) -> None:
        """Queue `event` at `at_ms` (never earlier than the current time)."""
        self._seq += 1
        heapq.heappush(self._heap, Scheduled(max(at_ms, self.now_ms), self._seq, event))

    def after(self, delay_ms: int, event: T) -> None:
        self.schedule(self.now_ms + delay_ms, event)

    def pop(self) -> T:
        """Remove the next event and move the clock to its time."""
        item = heapq.heappop(self._heap)
        self.now_ms = item.at_ms
        return item.event

    def peek_time(self) -> int | None:
        return self._heap[0].at_ms if self._heap else None

    def drain(self) -> list[T]:
        """Remove every queued event without moving the clock (used at a crash or heal)."""
        events = [item.event for item in sorted(self._heap)]
        self._heap.clear()
        return events
