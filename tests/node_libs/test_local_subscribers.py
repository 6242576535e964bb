"""Subscribers see dynamic-local changes too: they may veto them and are told of them.

Dynamic-local changes never go through the protocol (no PREPARE to veto in),
so the manager asks the node's subscribers itself, for API requests and for
edits of the node's file alike.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from reload_helpers import node_file, running_node

from butterfly_config.config import ButterflyConfig
from butterfly_config.node.service import Identity, PatchOperation, UpdateRefused
from butterfly_config.node.subscribers import ConfigSubscriber
from butterfly_config.sources.toml_edit import set_options

ADMIN = Identity("admin")
DEPTH = "scheduling.queues.max_queue_depth"


class Queue(ConfigSubscriber):
    """Refuses a queue depth below what it holds; records what it was told."""

    name = "queue"

    def __init__(self, queued: int) -> None:
        self.queued = queued
        self.seen: list[tuple[int, int]] = []

    def before_config_change(self, proposed: ButterflyConfig) -> str | None:
        depth = proposed.model.scheduling.queues.max_queue_depth
        return f"{self.queued} queued, depth {depth} too small" if depth < self.queued else None

    def on_config_changed(self, old: ButterflyConfig, new: ButterflyConfig) -> None:
        self.seen.append((old.model.scheduling.queues.max_queue_depth,
                          new.model.scheduling.queues.max_queue_depth))


def test_api_local_change_is_vetoed_or_notified(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            queue = Queue(queued=10)
            node.manager.subscribers.add(queue)
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.patch([PatchOperation("set", DEPTH, 5)], identity=ADMIN)
            assert refused.value.status == 409
            assert refused.value.message == (
                "update aborted by solo: queue: 10 queued, depth 5 too small; nothing applied")
            assert node.value(DEPTH) == 100 and node.manager.history(5, "local") == []
            assert queue.seen == []
            await node.manager.patch([PatchOperation("set", DEPTH, 20)], identity=ADMIN)
            assert node.value(DEPTH) == 20 and queue.seen == [(100, 20)]

    asyncio.run(body())


def test_file_local_change_is_vetoed_or_notified(tmp_path: Path) -> None:
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            queue = Queue(queued=10)
            node.manager.subscribers.add(queue)
            set_options(path, {DEPTH: 3})
            outcome = await node.reloader.check()
            assert outcome is not None and outcome.applied_local == ()
            assert outcome.refused is not None and "depth 3 too small" in outcome.refused
            assert node.value(DEPTH) == 100 and queue.seen == []
            set_options(path, {DEPTH: 30})
            outcome = await node.reloader.check()
            assert outcome is not None and outcome.applied_local == (DEPTH,)
            assert node.value(DEPTH) == 30 and queue.seen == [(100, 30)]

    asyncio.run(body())
