"""A replica stand-in for driver tests: it hands out the Ready batches a test gives it
and records which ones the driver advanced."""

from __future__ import annotations

from butterfly_config.consensus.state import Event, Ready


class ScriptedReplica:
    def __init__(self, *batches: Ready) -> None:
        self.batches = list(batches)
        self.advanced: list[Ready] = []

    def emit(self, *events: Event) -> None:
        """Add a batch that carries only `events`."""
        self.batches.append(Ready(None, (), (), events))

    def has_ready(self) -> bool:
        return bool(self.batches)

    def ready(self) -> Ready:
        return self.batches[0]

    def advance(self, ready: Ready) -> None:
        self.batches.remove(ready)
        self.advanced.append(ready)

    def propose(self, *_args: object) -> None:
        pass

    def tick(self, _now: int) -> None:
        pass
