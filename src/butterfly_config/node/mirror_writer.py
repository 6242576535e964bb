"""Writes `current.toml` off the agreement path, latest revision only.

The mirror is for people; the history store is what recovery trusts. Writing
it (TOML rendering, two fsyncs) on every commit would spend the CPU that the
next agreement needs, so a background thread writes whatever revision is
newest when it gets there: a burst of commits costs one write, and the file
lags the store by at most `delay_s` plus one write. `close()` writes the last
pending revision before the node stops.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ButterflyError
from butterfly_config.history import mirror_path, write_mirror

log = logging.getLogger("butterfly.manager")

WriteFn = Callable[[ButterflyConfig, int], None]


def write_config_mirror(config: ButterflyConfig, revision: int) -> None:
    try:
        write_mirror(
            mirror_path(str(config.model.node.data_dir)),
            revision,
            config.cluster_hash,
            config.to_toml(),
        )
    except (OSError, ButterflyError) as exc:
        log.error("could not write the current.toml mirror: %s", exc)


class MirrorWriter:
    """One background thread; `submit` replaces whatever was still waiting."""

    def __init__(self, write: WriteFn = write_config_mirror, delay_s: float = 0.05) -> None:
        self._write = write
        self._delay_s = delay_s
        self._pending: tuple[ButterflyConfig, int] | None = None
        self._closed = False
        self._wake = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="mirror", daemon=True)
        self._thread.start()

    def submit(self, config: ButterflyConfig, revision: int) -> None:
        with self._wake:
            if self._closed:
                return
            self._pending = (config, revision)
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
                if not self._closed:
                    # let a burst of commits settle so it costs one write
                    self._wake.wait(self._delay_s)
                job, self._pending = self._pending, None
            if job is not None:
                self._write(*job)
