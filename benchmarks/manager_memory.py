"""The manager's memory with revisions retained, in-process.

The issue asks for the memory of an idle node (RSS, in `node_cluster`) and of
the manager with 10 revisions retained. A node keeps its committed history in
SQLite; in memory its manager holds the current configuration, and its
replica the newest `RETAINED_REVISIONS` decided revisions (document and
certificate) plus every revision's digest. This suite builds the node of a
one-member dev cluster (files as `butterfly dev up` writes them; history store,
replica, manager; nothing served) in a temporary directory and commits
consensus updates through `ConfigManager.patch`, as the API does. tracemalloc
counts the Python heap the node holds, from just before it is built: after 10
revisions, per revision while the replica still keeps them, and per revision
once it keeps no more (only digests grow).
SQLite's own page cache and the interpreter are not Python objects: they are
in the RSS figures of `node_cluster`.

A first node is built and used before the measured one, so module imports and
process-wide caches are not counted as the manager's.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import tempfile
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

from benchmarks.report import Figure
from butterfly_config.cli.dev_cmd import create_cluster_files, plan_free_layout
from butterfly_config.consensus.replica import RETAINED_REVISIONS
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.logging_setup import logging_restored
from butterfly_config.node.runtime import NodeRuntime
from butterfly_config.node.service import Identity, PatchOperation

OPERATOR = Identity("bench", ("admin",))
TEN = 10


def _node_file(home: Path) -> Path:
    """The configuration file of a one-member dev cluster in `home` (its own keys, tokens
    and policy, as `butterfly dev up --nodes 1` would write them; logs go to a file)."""
    layout = plan_free_layout(home, 1)
    create_cluster_files(layout)
    return layout.nodes[0].config_path


async def _commit(runtime: NodeRuntime, number: int) -> None:
    """One consensus update (a cluster-scope option), committed before it returns."""
    operations = [PatchOperation("set", "network.connection.idle_timeout_ms", 30_000 + number)]
    result = await runtime.manager.patch(operations, identity=OPERATOR)
    if result.scope != "cluster":
        raise RuntimeError(f"update {number} was applied as {result.scope!r}, not agreed")


def _traced() -> int:
    gc.collect()
    return tracemalloc.get_traced_memory()[0]


@contextlib.contextmanager
def _standalone_node(path: Path) -> Iterator[NodeRuntime]:
    """The node of file `path`, built (store, replica, manager); closed on leaving."""
    runtime = NodeRuntime(base=ConfigLoader().add_file(path).load(), config_paths=[path])
    runtime.build()
    try:
        yield runtime
    finally:
        runtime.manager.close()
        runtime.store.close()


async def _measure(home: Path, checkpoints: tuple[int, ...]) -> tuple[list[int], int]:
    """Bytes the node holds once built, then at each checkpoint revision (ascending);
    and the size of the agreed document."""
    path = _node_file(home)
    start = _traced()
    with _standalone_node(path) as runtime:
        held = [_traced() - start]
        number = 0
        for checkpoint in checkpoints:
            while number < checkpoint:
                number += 1
                await _commit(runtime, number)
            held.append(_traced() - start)
        if runtime.manager.revision != checkpoints[-1]:
            raise RuntimeError(f"expected revision {checkpoints[-1]}, the node is at "
                               f"{runtime.manager.revision}")
        return held, len(runtime.manager.config.cluster_document())


async def _warm_up(home: Path) -> None:
    with _standalone_node(_node_file(home)) as runtime:
        for number in range(1, 4):
            await _commit(runtime, number)


def run(quick: bool = False) -> list[Figure]:
    full = RETAINED_REVISIONS + TEN  # the replica's window is full from here on
    later = full + (100 if quick else 300)
    with logging_restored(), tempfile.TemporaryDirectory() as warm, \
            tempfile.TemporaryDirectory() as measured:
        asyncio.run(_warm_up(Path(warm)))
        tracemalloc.start()
        try:
            (built, ten, at_full, at_later), document = asyncio.run(
                _measure(Path(measured), (TEN, full, later))
            )
        finally:
            tracemalloc.stop()
    kib = 1024
    return [
        Figure("one-member dev cluster's node built in-process (store, replica, manager)",
               built / kib, "KiB",
               note="Python heap from just before the build; no revision committed yet"),
        Figure(f"manager with {TEN} revisions retained", ten / kib, "KiB",
               note=f"the same node after {TEN} consensus updates; includes the bounded "
               "caches of recent documents and checked configurations, which fill here"),
        Figure(f"node with its replica's window full ({RETAINED_REVISIONS} revisions)",
               at_full / kib, "KiB", note=f"after {full} revisions"),
        Figure("each further revision kept in memory", (at_full - ten) / (full - TEN), "B",
               note=f"revisions {TEN} to {full}: the decided entry ({document:,} B agreed "
               "document) and its certificate"),
        Figure("each revision past the replica's window", (at_later - at_full) / (later - full),
               "B", note=f"revisions {full} to {later}: older revisions are read back from "
               "the store; their digests stay, and the key ring's cache of verified "
               "signatures (bounded) fills"),
    ]
