"""The mirror writer coalesces bursts and never loses the last revision."""

from __future__ import annotations

import threading
from typing import Any

from butterfly_config.node.mirror_writer import MirrorWriter


class Recorder:
    def __init__(self) -> None:
        self.written: list[int] = []
        self.gate = threading.Event()

    def __call__(self, _config: Any, revision: int) -> None:
        self.gate.wait(5)
        self.written.append(revision)


def test_a_burst_costs_few_writes_and_ends_on_the_newest_revision() -> None:
    recorder = Recorder()
    writer = MirrorWriter(recorder, delay_s=0.2)  # type: ignore[arg-type]
    for revision in range(1, 51):
        writer.submit(object(), revision)  # type: ignore[arg-type]
    recorder.gate.set()
    writer.close()
    assert recorder.written[-1] == 50
    assert len(recorder.written) <= 2
    assert recorder.written == sorted(recorder.written)


def test_close_writes_what_is_pending_and_later_submits_are_ignored() -> None:
    recorder = Recorder()
    recorder.gate.set()
    writer = MirrorWriter(recorder, delay_s=10.0)  # type: ignore[arg-type]
    writer.submit(object(), 7)  # type: ignore[arg-type]
    writer.close()  # does not wait out the delay
    assert recorder.written == [7]
    writer.submit(object(), 8)  # type: ignore[arg-type]
    assert recorder.written == [7]
