"""Writes `current.toml` off the agreement path, latest revision only.

The mirror is for people; the history store is what recovery trusts. Writing
it (TOML rendering, two fsyncs) on every commit would spend the CPU that the
next agreement needs, so a background thread writes whatever revision is
newest once commits have gone quiet for `quiet_s`, and at the latest
`max_lag_s` after the oldest revision it has not written yet: a burst of
commits costs about one write per `max_lag_s`, and the file never lags the
store by more than that plus one write. `close()` writes the last pending
revision before the node stops.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ButterflyError
from butterfly_config.history import mirror_path, write_mirror

log = logging.getLogger("butterfly.manager")

WriteFn = Callable[[ButterflyConfig, int], None]


def write_config_mirror(config: ButterflyConfig, revision: int) -> None:
    try:
        write_mirror(
            mirror_path(config.data_dir),
            revision,
            config.cluster_hash,
            config.to_toml(),
        )
    except (OSError, ButterflyError) as exc:
        log.error("could not write the current.toml mirror: %s", exc)


class MirrorWriter:
    """One background thread; `submit` replaces whatever was still waiting."""

    def __init__(
        self, write: WriteFn = write_config_mirror, quiet_s: float = 0.1, max_lag_s: float = 1.0
    ) -> None:
        self._write = write
        self._quiet_s = quiet_s
        self._max_lag_s = max_lag_s
        self._pending: tuple[ButterflyConfig, int] | None = None
        self._submitted_at = 0.0  # newest submit
        self._waiting_since = 0.0  # oldest submit not yet written
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mirror", daemon=True)
        self._thread.start()

    def submit(self, config: ButterflyConfig, revision: int) -> None:
        with self._wake:
            if self._closed:
                return
            now = time.monotonic()
            idle = self._pending is None
            if idle:
                self._waiting_since = now
            self._pending = (config, revision)
            self._submitted_at = now
            if idle:
                # a thread already waiting out a quiet period finds the newer revision
                # when its wait ends: waking it on every commit of a burst would cost
                # the committing loop a thread switch each time, for nothing
                self._wake.notify()

    def close(self) -> None:
        """Write the last pending revision, then stop the thread."""
        with self._wake:
            self._closed = True
            self._wake.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._wake:
                while self._pending is None and not self._closed:
                    self._wake.wait()
                if self._pending is None:
                    return
                # let a burst of commits settle so it costs one write, but not forever
                deadline = self._waiting_since + self._max_lag_s
                while not self._closed:
                    now = time.monotonic()
                    quiet_until = self._submitted_at + self._quiet_s
                    if now >= quiet_until or now >= deadline:
                        break
                    self._wake.wait(min(quiet_until, deadline) - now)
                job, self._pending = self._pending, None
            if job is not None:
                self._write(*job)
