"""Nodes built in-process (no sockets) for the node-library tests.

A standalone node for the hot-reload tests: history store, consensus replica (a
one-member cluster) and manager. Only the tick loop runs, so cluster proposals
commit; nothing is served over the network. And node-0 of a four-member dev
cluster (`cluster_member`), built but not run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from butterfly_config.cli.dev_cmd import DevLayout, create_cluster_files, plan_layout
from butterfly_config.config import ButterflyConfig
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.logging_setup import logging_restored
from butterfly_config.node.reload import HotReloader
from butterfly_config.node.runtime import NodeRuntime


def node_file(home: Path, extra: str = "") -> Path:
    """A minimal standalone node file in `home`; `extra` is appended TOML."""
    path = home / "node.toml"
    path.write_text(
        "[node]\n"
        'node_id = "solo"\n'
        f"data_dir = {str(home / 'data')!r}\n"
        "[observability.logging]\n"
        'output = "stderr"\n'
        'format = "text"\n'
        "[security.tls]\n"
        "enabled = false\n"
        "[security.signing]\n"
        f"private_key_file = {str(home / 'signing.key')!r}\n" + extra,
        encoding="utf-8",
    )
    return path




class Node:
    """A built standalone node and a hot reloader for its file."""

    def __init__(self, path: Path, *, settle_s: float = 0.05) -> None:
        self.path = path
        self.runtime = NodeRuntime(base=self.load(), reload=self.load, config_paths=[path])
        self.runtime.build()
        self.manager = self.runtime.manager
        self.reloader = HotReloader(self.manager, self.load, [path], self.runtime.base,
                                    settle_s=settle_s)

    def load(self) -> ButterflyConfig:
        return ConfigLoader().add_file(self.path).load()

    def value(self, path: str) -> Any:
        return self.manager.config.get_value(path)


@contextlib.asynccontextmanager
async def running_node(path: Path, **kwargs: Any) -> AsyncIterator[Node]:
    """The node with its consensus tick loop running (so proposals commit)."""
    with logging_restored():
        node = Node(path, **kwargs)
        stop = asyncio.Event()
        ticking = asyncio.create_task(node.runtime._tick_loop(stop))
        try:
            yield node
        finally:
            stop.set()
            await ticking
            node.manager.close()
            node.runtime.store.close()


async def wait_until(what: str, probe: Any, timeout: float = 10.0) -> None:
    """Poll `probe()` until true; generous bounds for a loaded 2-core machine."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not probe():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(0.01)


def cluster_member(tmp_path: Path) -> tuple[NodeRuntime, DevLayout]:
    """Node-0 of a four-member dev cluster in `tmp_path`, built (store, replica, manager,
    transport) but neither serving nor ticking; the caller closes its manager and store."""
    layout = plan_layout(tmp_path, 4, base_port=7890, api_base_port=8080, tls=False)
    create_cluster_files(layout)
    path = layout.nodes[0].config_path
    runtime = NodeRuntime(base=ConfigLoader().add_file(path).load(), config_paths=[path])
    runtime.build()
    return runtime, layout
