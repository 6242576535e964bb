"""The last events of a run, kept cheaply and rendered only when a run fails."""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TraceEvent:
    at_ms: int
    node: str
    what: str
    detail: object = ""

    def render(self, describe: Callable[[object], str] = str) -> str:
        detail = f" {describe(self.detail)}" if self.detail != "" else ""
        return f"{self.at_ms:>8}ms {self.node:<6} {self.what}{detail}"


class Trace:
    """A ring buffer of the last `keep` events; `count` is how many there were."""

    def __init__(self, keep: int = 50) -> None:
        self._events: deque[TraceEvent] = deque(maxlen=keep)
        self.count = 0

    def add(self, at_ms: int, node: str, what: str, detail: object = "") -> None:
        self.count += 1
        self._events.append(TraceEvent(at_ms, node, what, detail))

    def lines(self, describe: Callable[[object], str] = str) -> list[str]:
        return [event.render(describe) for event in self._events]
