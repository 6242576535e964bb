"""The mirror writer coalesces bursts, bounds its lag and never loses the last revision."""

from __future__ import annotations

import threading
import time
from typing import Any

from butterfly_config.node.mirror_writer import MirrorWriter


class Recorder:
    def __init__(self) -> None:
        self.written: list[int] = []
        self.at: list[float] = []
        self.gate = threading.Event()

    def __call__(self, _config: Any, revision: int) -> None:
        self.gate.wait(5)
        self.written.append(revision)
        self.at.append(time.monotonic())


def test_a_burst_costs_few_writes_and_ends_on_the_newest_revision() -> None:
    recorder = Recorder()
    writer = MirrorWriter(recorder, quiet_s=0.2)  # type: ignore[arg-type]
    for revision in range(1, 51):
        writer.submit(object(), revision)  # type: ignore[arg-type]
    recorder.gate.set()
    writer.close()
    assert recorder.written[-1] == 50
    assert len(recorder.written) <= 2
    assert recorder.written == sorted(recorder.written)


def test_a_quiet_cluster_gets_its_mirror_after_the_quiet_period() -> None:
    recorder = Recorder()
    recorder.gate.set()
    writer = MirrorWriter(recorder, quiet_s=0.05, max_lag_s=5.0)  # type: ignore[arg-type]
    submitted = time.monotonic()
    writer.submit(object(), 3)  # type: ignore[arg-type]
    deadline = time.monotonic() + 5
    while not recorder.written and time.monotonic() < deadline:
        time.sleep(0.01)
    writer.close()
    assert recorder.written == [3]
    assert 0.04 <= recorder.at[0] - submitted < 2.0


def test_steady_commits_still_reach_the_file_within_the_lag_bound() -> None:
    recorder = Recorder()
    recorder.gate.set()
    writer = MirrorWriter(recorder, quiet_s=0.2, max_lag_s=0.3)  # type: ignore[arg-type]
    started = time.monotonic()
    revision = 0
    while time.monotonic() - started < 1.0:  # a commit every 20 ms: never quiet for 0.2 s
        revision += 1
        writer.submit(object(), revision)  # type: ignore[arg-type]
        time.sleep(0.02)
    writer.close()
    during = [at for at in recorder.at if at - started < 1.0]
    assert len(during) >= 2, recorder.written
    assert recorder.written[-1] == revision
    assert recorder.written == sorted(recorder.written)


def test_close_writes_what_is_pending_and_later_submits_are_ignored() -> None:
    recorder = Recorder()
    recorder.gate.set()
    writer = MirrorWriter(recorder, quiet_s=10.0, max_lag_s=10.0)  # type: ignore[arg-type]
    writer.submit(object(), 7)  # type: ignore[arg-type]
    writer.close()  # does not wait out the delay
    assert recorder.written == [7]
    writer.submit(object(), 8)  # type: ignore[arg-type]
    assert recorder.written == [7]


def test_commits_during_a_quiet_wait_do_not_wake_the_thread(monkeypatch: Any) -> None:
    """Each wake-up is a thread switch on the committing loop; a burst needs none."""
    from butterfly_config.node import mirror_writer

    woken = [0]

    class CountingCondition(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            result = super().wait(timeout)
            woken[0] += 1
            return result

    monkeypatch.setattr(mirror_writer.threading, "Condition", CountingCondition)
    recorder = Recorder()
    recorder.gate.set()
    writer = MirrorWriter(recorder, quiet_s=0.5, max_lag_s=5.0)  # type: ignore[arg-type]
    writer.submit(object(), 1)  # type: ignore[arg-type]
    time.sleep(0.05)  # the thread now waits out the quiet period
    before = woken[0]
    for revision in range(2, 42):
        writer.submit(object(), revision)  # type: ignore[arg-type]
        time.sleep(0.002)
    assert woken[0] - before <= 1
    writer.close()
    assert recorder.written == [41]
