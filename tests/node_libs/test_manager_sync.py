"""`sync` returns once this node has what its peers announce, and at once when nothing is newer."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

from reload_helpers import node_file, running_node


def test_sync_returns_at_once_when_no_peer_is_ahead(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            revision = node.manager.revision
            node.manager.status_provider = lambda: {"nodes": [{"revision": revision},
                                                              {"revision": None}]}
            started = time.monotonic()
            result = await node.manager.sync()
            assert time.monotonic() - started < 0.5
            assert result["revision"] == result["revision_before"] == revision

    asyncio.run(body())


def test_sync_waits_for_the_announced_revision_within_its_timeout(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            revision = node.manager.revision
            asked: list[bool] = []
            status: dict[str, Any] = {"nodes": [{"revision": revision + 5}]}
            node.manager.status_provider = lambda: status
            node.manager.sync_trigger = lambda: asked.append(True)
            started = time.monotonic()
            result = await node.manager.sync(timeout=0.3)  # nothing arrives: bounded wait
            waited = time.monotonic() - started
            assert asked == [True]
            assert 0.25 <= waited < 2.0
            assert result["revision"] == revision

    asyncio.run(body())
