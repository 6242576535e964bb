"""An update the coordinator refuses as stale is built again on the newer head.

The consensus side (the coordinator's refusal) is in
tests/consensus/test_consensus_stale_base.py, and the whole path with real
processes in tests/integration/test_lagging_origin.py. Here: the node asks
its peers for what it lacks between tries, each try names the revision after
the head it was built on, and after three stale refusals the update is a 409.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from reload_helpers import node_file, running_node

from butterfly_config.node import manager as manager_module
from butterfly_config.node.agreement import Outcome
from butterfly_config.node.service import Identity, PatchOperation, UpdateRefused

LEVEL = "network.compression.level"


def test_stale_refusals_are_retried_then_reported_as_409(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manager_module, "STALE_CATCH_UP_S", 0.01)

    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            revisions: list[int | None] = []
            syncs: list[int] = []

            def always_stale(document: bytes, **kwargs: Any) -> asyncio.Future[Outcome]:
                revisions.append(kwargs.get("revision"))
                future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
                future.set_result(Outcome(False, kind="stale", reason="made against revision "
                                          f"{manager.revision}, but the coordinator is at ..."))
                return future

            monkeypatch.setattr(node.runtime.driver, "propose", always_stale)
            manager.sync_trigger = lambda: syncs.append(1)
            before = manager.revision
            with pytest.raises(UpdateRefused) as refused:
                await manager.patch([PatchOperation("set", LEVEL, 9)], identity=Identity("admin"))
            assert refused.value.status == 409
            assert "the configuration changed while this update was being agreed" in (
                refused.value.message)
            assert revisions == [before + 1] * (manager_module.STALE_RETRIES + 1)
            assert len(syncs) == manager_module.STALE_RETRIES
            assert manager.revision == before

    asyncio.run(body())


def test_a_stale_refusal_then_a_commit_on_the_new_head(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            real = node.runtime.driver.propose
            calls: list[int | None] = []

            def stale_once(document: bytes, **kwargs: Any) -> asyncio.Future[Outcome]:
                calls.append(kwargs.get("revision"))
                if len(calls) == 1:
                    future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
                    future.set_result(Outcome(False, kind="stale", reason="made against ..."))
                    return future
                return real(document, **kwargs)

            monkeypatch.setattr(node.runtime.driver, "propose", stale_once)
            before = manager.revision
            result = await manager.patch([PatchOperation("set", LEVEL, 9)],
                                         identity=Identity("admin"))
            assert result.revision == before + 1
            assert calls == [before + 1, before + 1]
            assert manager.config.get_value(LEVEL) == 9

    asyncio.run(body())
