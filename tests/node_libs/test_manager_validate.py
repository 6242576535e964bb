"""`POST /api/v1/config/validate` as a pre-flight check of `POST /api/v1/config`.

A document that is a valid configuration but changes static options is still
reported valid (a file and a restart can carry it); each such option comes back
as a warning naming the 409 that proposing the document would get, so the check
does not promise an update the node refuses.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from reload_helpers import node_file, running_node

from butterfly_config.node.service import Identity, UpdateRefused

ADMIN = Identity("admin")


def _static_warnings(warnings: list[Any]) -> list[str]:
    return [w.path for w in warnings if w.rule == "static-change"]


def test_a_document_that_resets_a_static_option_is_valid_but_warns_of_the_409(
        tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            partial = {"scheduling": {"policy": "least_loaded"}}  # the rest goes to defaults
            report = node.manager.validate_document(partial)
            assert report.valid
            flagged = _static_warnings(report.warnings)
            assert "security.tls.enabled" in flagged  # the file turns it off; its default is on
            warning = next(w for w in report.warnings if w.path == "security.tls.enabled")
            assert warning.severity == "warning"
            assert "409" in warning.message and "GET /api/v1/config" in warning.hint

            before = node.manager.revision
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.update_document(partial, identity=ADMIN)
            assert refused.value.status == 409
            assert refused.value.restart_required == flagged
            assert node.manager.revision == before

    asyncio.run(body())


def test_the_current_document_with_a_dynamic_change_has_no_static_warning(
        tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            document = node.manager.config.to_dict()
            document["scheduling"]["policy"] = "least_loaded"
            report = node.manager.validate_document(document)
            assert report.valid
            assert _static_warnings(report.warnings) == []

            result = await node.manager.update_document(document, identity=ADMIN)
            assert "scheduling.policy" in result.changed_paths

    asyncio.run(body())


def test_an_invalid_document_still_names_the_static_options_it_changes(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            report = node.manager.validate_document(
                {"network": {"compression": {"level": 99}}}
            )
            assert not report.valid
            assert [e.path for e in report.errors] == ["network.compression.level"]
            assert "security.tls.enabled" in _static_warnings(report.warnings)

    asyncio.run(body())
