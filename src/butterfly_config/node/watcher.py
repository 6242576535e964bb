"""Watching a node's configuration files: the files given to `start` and everything they include.

Editors save in different ways: writing in place, writing a temporary file and
renaming it over the original (a new inode), or deleting and recreating the
file. A watch on the file itself is lost after a rename, so the watcher
watches each file's directory (not recursively) and keeps only the events on
the files it cares about. The files are the include tree, found the way the
loader finds it; the caller recomputes them after every check, since an edit
can add or remove an include.

The decisions (`config_files`, `watch_plan`) are plain functions; `FileWatcher`
does the waiting with `watchfiles` (Rust `notify`: inotify on Linux). Events can
still be missed in a few corners (a watched directory replaced whole, the gap
while the watch is re-armed for a new directory), so the watcher also calls
back every `RECHECK_S` seconds; the callback compares file contents and costs a
few small reads when nothing changed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tomllib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass

from butterfly_config import input_files, toml_text
from butterfly_config.canonical import digest

log = logging.getLogger("butterfly.reload")

STEP_MS = 50
"""A batch of events is handed over once no new event came for this long (partial writes
and the steps of a rename-save arrive well within it)."""
DEBOUNCE_MS = 500
"""Longest a batch is held back while events keep coming."""
RECHECK_S = 2.0
"""The safety-net check for events the operating system did not report."""


# -- which files ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ConfigFiles:
    """The files a configuration is read from and their bytes (None: missing or unreadable)."""

    names: tuple[str, ...]
    contents: tuple[bytes | None, ...]

    @property
    def digest(self) -> str:
        """One hash over every file's name and bytes: equal digests mean nothing changed."""
        parts = []
        for name, data in zip(self.names, self.contents, strict=True):
            body = b"\x00missing" if data is None else digest(data).encode()
            parts.append(name.encode() + b"\x00" + body)
        return digest(b"\n".join(parts))

    def changed_since(self, other: ConfigFiles | None) -> list[str]:
        """The files whose bytes differ from `other` (new and vanished files included)."""
        if other is None:
            return list(self.names)
        before = dict(zip(other.names, other.contents, strict=True))
        now = dict(zip(self.names, self.contents, strict=True))
        names = dict.fromkeys((*self.names, *other.names))
        return [n for n in names if n not in before or n not in now or before[n] != now[n]]

    def empty_files(self) -> list[str]:
        """Files that exist but hold no bytes: usually a save caught half-way."""
        return [n for n, data in zip(self.names, self.contents, strict=True) if data == b""]


def _read(name: str) -> bytes | None:
    try:
        return input_files.read_bytes(name)
    except OSError:
        return None


def _includes(data: bytes) -> list[str]:
    """The `[include] files` of a file's bytes; nothing when it does not parse (yet)."""
    try:
        document = toml_text.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError):
        return []
    section = document.get("include")
    files = section.get("files") if isinstance(section, dict) else None
    if not isinstance(files, list):
        return []
    return [f for f in files if isinstance(f, str) and f]


def config_files(
    paths: Sequence[str | os.PathLike[str]],
    env_files: Sequence[str | os.PathLike[str]] = (),
) -> ConfigFiles:
    """Every file the loader reads for `paths`, depth first, then `env_files`
    (`--env-file`, KEY=VALUE lines: no includes), each with its bytes.

    Include paths resolve as the loader resolves them (relative to the file
    that names them). A missing or broken file is still listed, so that its
    creation or repair is noticed; a cycle is followed once.
    """
    names: list[str] = []
    contents: list[bytes | None] = []
    seen: set[str] = set()

    def visit(name: str, *, toml: bool = True) -> None:
        key = os.path.realpath(name)
        if key in seen:
            return
        seen.add(key)
        data = _read(name)
        names.append(name)
        contents.append(data)
        if data is None or not toml:
            return
        here = os.path.dirname(name)
        for child in _includes(data):
            visit(os.path.normpath(os.path.join(here, child)))

    for path in paths:
        visit(os.fspath(path))
    for path in env_files:
        visit(os.fspath(path), toml=False)
    return ConfigFiles(tuple(names), tuple(contents))


# -- which directories and events ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class WatchPlan:
    """Directories to watch (not recursively) and the paths in them whose events count."""

    directories: frozenset[str]
    targets: frozenset[str]

    def wants(self, path: str) -> bool:
        return os.path.normpath(os.path.abspath(path)) in self.targets


def _nearest_existing(path: str) -> tuple[str, str]:
    """(an existing directory, the path in it whose creation leads towards `path`)."""
    child = path
    parent = os.path.dirname(path)
    while parent != child and not os.path.isdir(parent):
        child, parent = parent, os.path.dirname(parent)
    return parent, child


def watch_plan(files: Iterable[str]) -> WatchPlan:
    """Where to watch for `files`.

    Each file's directory is watched so that renames and re-creations are seen.
    A file reached through a symlink is watched at the link and at its target.
    When a file's directory does not exist yet, the nearest existing ancestor
    is watched for the creation of the next directory down.
    """
    directories: set[str] = set()
    targets: set[str] = set()
    for name in files:
        absolute = os.path.normpath(os.path.abspath(name))
        candidates = {absolute, os.path.realpath(absolute)}
        for path in candidates:
            directory, target = _nearest_existing(path)
            directories.add(directory)
            targets.add(path)
            targets.add(target)
    return WatchPlan(frozenset(directories), frozenset(targets))


# -- waiting ---------------------------------------------------------------------------
class _Halt(asyncio.Event):
    """The flag `watchfiles` polls from its thread: set to re-arm, or the node is stopping."""

    def __init__(self, stop: asyncio.Event) -> None:
        super().__init__()
        self._stop = stop

    def is_set(self) -> bool:
        return super().is_set() or self._stop.is_set()


OnChange = Callable[[frozenset[str]], Awaitable[None]]


class FileWatcher:
    """Calls `on_change(paths)` after files change, and `on_change(frozenset())` periodically.

    `watch(files)` sets the files; when their directories change, the
    underlying watch is re-armed. Calls to `on_change` do not overlap.
    """

    def __init__(
        self,
        on_change: OnChange,
        *,
        step_ms: int = STEP_MS,
        debounce_ms: int = DEBOUNCE_MS,
        recheck_s: float = RECHECK_S,
        force_polling: bool | None = None,
    ) -> None:
        self._on_change = on_change
        self._step_ms = step_ms
        self._debounce_ms = debounce_ms
        self._recheck_s = recheck_s
        self._force_polling = force_polling
        self._plan = WatchPlan(frozenset(), frozenset())
        self._halt: _Halt | None = None
        self._calling = asyncio.Lock()

    @property
    def plan(self) -> WatchPlan:
        return self._plan

    def watch(self, files: Iterable[str]) -> None:
        plan = watch_plan(files)
        if plan == self._plan:
            return
        rearm = plan.directories != self._plan.directories
        self._plan = plan
        if rearm and self._halt is not None:
            self._halt.set()

    async def _call(self, paths: frozenset[str]) -> None:
        async with self._calling:
            try:
                await self._on_change(paths)
            except Exception:  # a failed check must not end the watching
                log.exception("hot reload: the check after a file change failed")

    async def run(self, stop: asyncio.Event) -> None:
        """Watch until `stop` is set."""
        recheck = asyncio.create_task(self._recheck_loop(stop), name="reload-recheck")
        try:
            await self._watch_loop(stop)
        finally:
            recheck.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await recheck

    async def _recheck_loop(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self._recheck_s)
            if not stop.is_set():
                await self._call(frozenset())

    async def _watch_loop(self, stop: asyncio.Event) -> None:
        from watchfiles import awatch

        polling = self._force_polling
        while not stop.is_set():
            plan = self._plan
            directories = sorted(d for d in plan.directories if os.path.isdir(d))
            if not directories:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._recheck_s)
                continue
            halt = self._halt = _Halt(stop)
            changes_seen = awatch(
                *directories,
                watch_filter=lambda _change, path: self._plan.wants(path),
                debounce=self._debounce_ms,
                step=self._step_ms,
                stop_event=halt,
                recursive=False,
                force_polling=polling,
                ignore_permission_denied=True,
            )
            try:
                async with contextlib.aclosing(changes_seen) as batches:
                    async for batch in batches:
                        await self._call(frozenset(path for _, path in batch))
                        if halt.is_set():
                            break
            except FileNotFoundError:
                # a directory vanished between the check and the watch: plan again shortly
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), min(1.0, self._recheck_s))
            except (OSError, RuntimeError) as exc:
                # e.g. the inotify watch limit: polling is slower but still notices edits
                if polling:
                    log.error("hot reload: cannot watch %s (%s); edits are noticed only by the "
                              "check every %.0f s", ", ".join(directories), exc, self._recheck_s)
                    await stop.wait()
                    return
                log.warning("hot reload: cannot watch %s with file-system events (%s); "
                            "polling instead", ", ".join(directories), exc)
                polling = True
