"""The file watcher with real files: the ways editors save, includes, re-arming."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from butterfly_config.node.watcher import FileWatcher, config_files

WAIT_S = 10.0  # bound for one event on a loaded machine; events normally take ~0.1 s


class Seen:
    """Collects the batches the watcher reports."""

    def __init__(self) -> None:
        self.batches: asyncio.Queue[frozenset[str]] = asyncio.Queue()

    async def __call__(self, paths: frozenset[str]) -> None:
        await self.batches.put(paths)

    async def next_with(self, path: Path, timeout: float = WAIT_S) -> None:
        """Wait for a batch naming `path` (periodic empty batches are skipped)."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            assert remaining > 0, f"no event for {path}"
            batch = await asyncio.wait_for(self.batches.get(), remaining)
            if str(path) in batch:
                return

    async def drain(self) -> None:
        """Forget what was reported so far (one save can be reported in two batches)."""
        await asyncio.sleep(0.2)
        while not self.batches.empty():
            self.batches.get_nowait()

    async def nothing_for(self, seconds: float) -> None:
        try:
            batch = await asyncio.wait_for(self.batches.get(), seconds)
        except TimeoutError:
            return
        raise AssertionError(f"unexpected event: {sorted(batch)}")


@asynccontextmanager
async def watching(files: list[Path], recheck_s: float = 3600.0) -> AsyncIterator[
        tuple[FileWatcher, Seen]]:
    seen = Seen()
    watcher = FileWatcher(seen, recheck_s=recheck_s)
    watcher.watch(config_files(files).names)
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    await asyncio.sleep(0.3)  # let the watch arm
    try:
        yield watcher, seen
    finally:
        stop.set()
        await asyncio.wait_for(task, 5.0)


def run(body: Callable[[], object]) -> None:
    asyncio.run(body())  # type: ignore[arg-type]


def test_in_place_write_rename_save_and_delete_then_recreate(tmp_path: Path) -> None:
    target = tmp_path / "node.toml"
    target.write_text("a = 1\n")

    async def body() -> None:
        async with watching([target]) as (_, seen):
            target.write_text("a = 2\n")  # in place
            await seen.next_with(target)
            await seen.drain()
            temporary = tmp_path / ".node.toml.tmp"
            temporary.write_text("a = 3\n")
            os.replace(temporary, target)  # save by rename
            await seen.next_with(target)
            await seen.drain()
            target.unlink()
            await seen.next_with(target)
            await seen.drain()
            target.write_text("a = 4\n")  # recreated
            await seen.next_with(target)

    run(body)


def test_other_files_in_the_directory_are_ignored(tmp_path: Path) -> None:
    target = tmp_path / "node.toml"
    target.write_text("a = 1\n")

    async def body() -> None:
        async with watching([target]) as (_, seen):
            (tmp_path / "node.toml.swp").write_text("x")
            (tmp_path / "stderr.log").write_text("x")
            await seen.nothing_for(0.5)
            target.write_text("a = 2\n")
            await seen.next_with(target)

    run(body)


def test_an_included_file_is_watched(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    target = tmp_path / "node.toml"
    target.write_text('[include]\nfiles = ["conf/net.toml"]\n')
    included = tmp_path / "conf" / "net.toml"
    included.write_text("a = 1\n")

    async def body() -> None:
        async with watching([target]) as (_, seen):
            included.write_text("a = 2\n")
            await seen.next_with(included)

    run(body)


def test_an_include_in_a_new_directory_is_watched_once_the_set_is_updated(tmp_path: Path) -> None:
    target = tmp_path / "node.toml"
    target.write_text("a = 1\n")
    (tmp_path / "extra").mkdir()
    added = tmp_path / "extra" / "more.toml"
    added.write_text("b = 1\n")

    async def body() -> None:
        async with watching([target]) as (watcher, seen):
            target.write_text('[include]\nfiles = ["extra/more.toml"]\n')
            await seen.next_with(target)
            watcher.watch(config_files([target]).names)  # what the reloader does after a check
            assert str(tmp_path / "extra") in watcher.plan.directories
            await seen.drain()
            await asyncio.sleep(0.5)  # re-armed
            added.write_text("b = 2\n")
            await seen.next_with(added)

    run(body)


def test_periodic_check_is_called_without_events(tmp_path: Path) -> None:
    target = tmp_path / "node.toml"
    target.write_text("a = 1\n")

    async def body() -> None:
        async with watching([target], recheck_s=0.2) as (_, seen):
            batch = await asyncio.wait_for(seen.batches.get(), WAIT_S)
            assert batch == frozenset()

    run(body)
