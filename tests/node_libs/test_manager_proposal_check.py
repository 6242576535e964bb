"""Where an update's deterministic check runs.

An update's document is encoded from a configuration the node has just built
and validated, so the node sends it on and the coordinator checks it (a
document that fails is refused with HTTP 400, nothing applied). A rollback
target was not built here: the node checks it before proposing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from reload_helpers import node_file, running_node

from butterfly_config.node import documents
from butterfly_config.node.service import Identity, PatchOperation, UpdateRefused

ADMIN = Identity("admin")
LEVEL = "network.compression.level"


def pretending_level_9_fails(
    monkeypatch: pytest.MonkeyPatch, calls: list[str]
) -> Callable[[bytes, bytes | None], str | None]:
    """A check that refuses compression level 9 (as if defaults made it invalid)."""
    real = documents.check_cluster_document

    def check(document: bytes, head: bytes | None) -> str | None:
        calls.append("check")
        level = orjson.loads(document)["network"]["compression"]["level"]
        return f"{LEVEL}: 9 is refused here" if level == 9 else real(document, head)

    monkeypatch.setattr(documents, "check_cluster_document", check)
    return check


def test_an_update_is_checked_by_the_coordinator_not_before_it_is_sent(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    pretending_level_9_fails(monkeypatch, calls)

    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            driver = node.runtime.driver
            propose = driver.propose

            def recorded(*args: object, **kwargs: object) -> object:
                calls.append("propose")
                return propose(*args, **kwargs)  # type: ignore[arg-type]

            monkeypatch.setattr(driver, "propose", recorded)
            before = node.manager.revision
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.patch([PatchOperation("set", LEVEL, 9)], identity=ADMIN)
            assert refused.value.status == 400
            expected = f"refused by the coordinator: {LEVEL}: 9 is refused here"
            assert refused.value.message == expected
            assert node.manager.revision == before
            assert calls[0] == "propose"  # this node did not check first...
            assert "check" in calls       # ...the coordinator (here, itself) did

            calls.clear()
            result = await node.manager.patch([PatchOperation("set", LEVEL, 4)], identity=ADMIN)
            assert result.revision == before + 1
            assert calls[0] == "propose"
            await asyncio.sleep(0.05)  # the node's own check, run once the request is out
            assert calls.count("check") >= 2

    asyncio.run(body())


def test_a_rollback_target_is_checked_before_it_is_proposed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            first = await node.manager.patch([PatchOperation("set", LEVEL, 9)], identity=ADMIN)
            await node.manager.patch([PatchOperation("set", LEVEL, 4)], identity=ADMIN)
            calls: list[str] = []
            pretending_level_9_fails(monkeypatch, calls)
            driver = node.runtime.driver
            monkeypatch.setattr(driver, "propose", lambda *a, **k: calls.append("propose"))
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.rollback(str(first.revision), identity=ADMIN)
            assert refused.value.status == 400
            assert "9 is refused here" in refused.value.message
            assert "propose" not in calls

    asyncio.run(body())
