"""One PATCH that changes a cluster option and a dynamic-local one.

Both are applied (the cluster option through a revision, the local one on this
node), and the reply says so: the cluster revision it made and every changed
path. It used to answer `scope: local` with only the local path, although a
cluster revision had been committed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from reload_helpers import node_file, running_node

from butterfly_config.node.service import Identity, PatchOperation

LEVEL = "network.compression.level"
LOG_LEVEL = "observability.logging.level"


def test_a_mixed_patch_reports_its_revision_and_every_path(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            before = manager.revision
            result = await manager.patch(
                [PatchOperation("set", LEVEL, 8), PatchOperation("set", LOG_LEVEL, "debug")],
                identity=Identity("admin"))
            assert result.scope == "cluster"
            assert result.revision == before + 1 == manager.revision
            assert result.changed_paths == (LEVEL, LOG_LEVEL)
            assert result.cluster_hash == manager.cluster_hash
            assert manager.config.get_value(LEVEL) == 8
            assert manager.config.get_value(LOG_LEVEL) == "debug"
            [local] = manager.history(10, "local")
            assert [c["path"] for c in local["changes"]] == [LOG_LEVEL]

    asyncio.run(body())
