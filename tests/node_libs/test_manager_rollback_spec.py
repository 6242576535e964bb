"""Rollback targets given as text: digits that `int()` refuses are names, not a crash."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from reload_helpers import node_file, running_node

from butterfly_config.node.service import Identity, UpdateRefused


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
