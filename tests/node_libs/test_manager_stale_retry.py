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


def refused_as_stale(reason: str = "made against ...") -> asyncio.Future[Outcome]:
    """What the driver hands back when the coordinator refuses a proposal as stale."""
    future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
    future.set_result(Outcome(False, kind="stale", reason=reason))
    return future


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
                return refused_as_stale(f"made against revision {manager.revision}, but the "
                                        "coordinator is at ...")

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
                    return refused_as_stale()
                return real(document, **kwargs)

            monkeypatch.setattr(node.runtime.driver, "propose", stale_once)
            before = manager.revision
            result = await manager.patch([PatchOperation("set", LEVEL, 9)],
                                         identity=Identity("admin"))
            assert result.revision == before + 1
            assert calls == [before + 1, before + 1]
            assert manager.config.get_value(LEVEL) == 9

    asyncio.run(body())


def test_if_match_is_checked_again_on_the_head_a_retry_builds_on(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Read-modify-write: the client read hash H; its update met a stale refusal, and
    by the retry the head holds another change, so H no longer matches: 412."""
    from butterfly_config.node import documents

    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            admin = Identity("admin")
            read = manager.cluster_hash
            with pytest.raises(UpdateRefused) as mismatch:
                await manager.patch([PatchOperation("set", LEVEL, 4)], identity=admin,
                                    if_match=frozenset({"0" * 64}))
            assert mismatch.value.status == 412
            [refusal] = node.runtime.store.list_audit(limit=1)
            assert (refusal.action, refusal.outcome) == ("patch", "precondition-failed")
            ok = await manager.patch([PatchOperation("set", LEVEL, 4)], identity=admin,
                                     if_match=frozenset({read}))
            read = manager.cluster_hash
            real = node.runtime.driver.propose
            other = documents.document_of(manager.config.with_values({LEVEL: 7}))
            calls: list[int | None] = []

            def stale_while_another_commits(document: bytes,
                                            **kwargs: Any) -> asyncio.Future[Outcome]:
                calls.append(kwargs.get("revision"))
                if len(calls) > 1:
                    return real(document, **kwargs)
                real(other, initiator="someone-else", action="update")  # commits at once
                return refused_as_stale()

            monkeypatch.setattr(node.runtime.driver, "propose", stale_while_another_commits)
            with pytest.raises(UpdateRefused) as moved_on:
                await manager.patch([PatchOperation("set", LEVEL, 9)], identity=admin,
                                    if_match=frozenset({read}))
            assert moved_on.value.status == 412
            assert calls == [ok.revision + 1]  # no second try on the moved head
            assert manager.config.get_value(LEVEL) == 7  # the other change stands
            assert manager.revision == ok.revision + 1

    asyncio.run(body())


def test_a_busy_coordinator_is_a_409_that_says_why(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            def busy(document: bytes, **kwargs: Any) -> asyncio.Future[Outcome]:
                future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
                future.set_result(Outcome(False, kind="busy", reason=(
                    "node-3 sent 8 invalid updates within 1000 ms: its requests wait a "
                    "moment before being checked again")))
                return future

            monkeypatch.setattr(node.runtime.driver, "propose", busy)
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.patch([PatchOperation("set", LEVEL, 9)],
                                         identity=Identity("admin"))
            assert refused.value.status == 409
            assert refused.value.message.startswith(
                "the coordinator is busy: node-3 sent 8 invalid updates within 1000 ms")

    asyncio.run(body())
