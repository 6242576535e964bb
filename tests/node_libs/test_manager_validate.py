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

from butterfly_config.node.service import Identity, PatchOperation, UpdateRefused

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


FIVE_TYPE_ERRORS: dict[str, Any] = {
    "network": {"bogus_key": 1, "connection": {"max_connections": "many",
                                               "keepalive_interval_ms": "often"}},
    "partition": {"strategy": 42},
    "scheduling": {"policy": 42},
    "observability": {"logging": {"level": 7}},
}


def test_an_unknown_key_does_not_hide_the_documents_other_errors(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            report = node.manager.validate_document(FIVE_TYPE_ERRORS)
            assert not report.valid
            assert [(e.rule, e.path) for e in report.errors] == [
                ("unknown-key", "network.bogus_key"),
                ("type", "network.connection.max_connections"),
                ("type", "network.connection.keepalive_interval_ms"),
                ("type", "partition.strategy"),
                ("type", "scheduling.policy"),
                ("type", "observability.logging.level"),
            ]

    asyncio.run(body())


def test_an_unknown_key_alone_makes_a_document_invalid(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            document = node.manager.config.to_dict()
            document["network"]["bogus_key"] = 1
            report = node.manager.validate_document(document)
            assert not report.valid
            assert [(e.rule, e.path) for e in report.errors] == [
                ("unknown-key", "network.bogus_key")]

    asyncio.run(body())


def test_a_patch_with_an_unknown_path_lists_its_other_errors_too(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            before = node.manager.revision
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.patch(
                    [PatchOperation("set", "nope.x", 1),
                     PatchOperation("set", "scheduling.policy", 42),
                     PatchOperation("set", "observability.logging.level", 7)],
                    identity=ADMIN)
            assert refused.value.status == 400
            assert [(e.rule, e.path) for e in refused.value.errors] == [
                ("unknown-key", "nope.x"),
                ("type", "scheduling.policy"),
                ("type", "observability.logging.level"),
            ]
            assert node.manager.revision == before

    asyncio.run(body())


def test_a_patch_with_an_unknown_path_and_a_static_option_is_still_409(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            with pytest.raises(UpdateRefused) as refused:
                await node.manager.patch(
                    [PatchOperation("set", "nope.x", 1),
                     PatchOperation("set", "byzantine.f_value", 2)], identity=ADMIN)
            assert refused.value.status == 409
            assert refused.value.restart_required == ["byzantine.f_value"]

    asyncio.run(body())
