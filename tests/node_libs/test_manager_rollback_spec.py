"""Rollback targets given as text: digits that `int()` refuses are names, not a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from reload_helpers import cluster_member, node_file, running_node

from butterfly_config.node.service import Identity, PatchOperation, UpdateRefused

ADMIN = Identity("admin")
LEVEL = "network.compression.level"


@pytest.mark.parametrize("spec", ["\u00b9", "\u0661", "\u00b2\u00b3", "no-such-version",
                                  "99999999999999999999999999", str(1 << 63), "7" * 5000])
def test_a_target_that_is_no_revision_number_is_a_clear_400(tmp_path: Path, spec: str) -> None:
    """"¹".isdigit() is true, yet int("¹") raises: the live API fuzzer found this as a 500
    (POST /api/v1/config/rollback/%C2%B9). A number beyond SQLite's 64-bit integers was
    a 500 too (OverflowError in the store)."""
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            before = node.manager.revision
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.rollback(spec, identity=Identity("admin"))
            assert refused.value.status == 400
            assert node.manager.revision == before

    asyncio.run(body())


def test_a_config_version_every_revision_carries_is_refused_with_why(tmp_path: Path) -> None:
    """config_version is static-critical, so a running cluster's revisions all carry the
    same one: once anything changed it names no single configuration. The rollback is
    refused with the reason and what to give instead, and nothing is committed (it
    used to name the head, committing a rollback that changed nothing)."""
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            version = manager.config.get_value("metadata.config_version")
            await manager.patch([PatchOperation("set", LEVEL, 5)], identity=ADMIN)
            await manager.patch([PatchOperation("set", LEVEL, 7)], identity=ADMIN)
            head = manager.revision
            with pytest.raises(UpdateRefused) as refused:
                await manager.rollback(version, identity=ADMIN)
            assert refused.value.status == 400
            assert "names no single configuration" in refused.value.message
            assert manager.revision == head
            assert manager.config.get_value(LEVEL) == 7

    asyncio.run(body())


def test_a_revision_number_stays_exact_and_carries_no_note(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            await manager.patch([PatchOperation("set", LEVEL, 5)], identity=ADMIN)
            first = manager.revision
            await manager.patch([PatchOperation("set", LEVEL, 7)], identity=ADMIN)
            result = await manager.rollback(str(first), identity=ADMIN)
            assert result.target_revision == first and result.note == ""
            assert "note" not in result.as_dict()
            assert manager.config.get_value(LEVEL) == 5

    asyncio.run(body())


@pytest.mark.parametrize(("spec", "asks_peers"), [
    ("no-such-version", False),  # not a hash prefix: no revision it lacks can match it
    ("2.0.0", False),            # a config_version: static, so no newer revision has another
    ("abc", False),              # too short to be a hash prefix
    ("abcd1234", True),          # a hash prefix: a newer revision may have it
    ("99", True),                # a revision past this member's head
])
def test_a_member_asks_its_peers_only_when_the_target_may_be_newer(
        tmp_path: Path, spec: str, asks_peers: bool) -> None:
    """A member lacking the target catches up before saying it does not exist, but only
    when a revision it has not received could be the one meant: a typo is refused at
    once instead of after the catch-up's wait."""
    async def body() -> None:
        runtime, _ = cluster_member(tmp_path)
        manager = runtime.manager
        asked: list[bool] = []
        manager.sync_trigger = lambda: asked.append(True)
        try:
            with pytest.raises(UpdateRefused) as refused:
                await manager.rollback(spec, identity=ADMIN)
            assert refused.value.status == 400
            assert "no revision matches" in refused.value.message
            assert bool(asked) is asks_peers
        finally:
            manager.close()
            runtime.store.close()

    asyncio.run(body())
