"""The origin's audit log agrees with the history, also when an update commits late.

An update answered 503 (aborted without definitive rejects, or timed out) may
still be committed by the protocol later (docs/consensus.md "Aborts"). The
replica then reports ProposalCommitted at the origin, and the origin writes the
`committed` audit record with the revision, in the revision's own
transaction, saying what the client had been told. Here on a one-member node:
the driver's answer to the client is faked, and the real replica commits the
same request afterwards, as the protocol would once the members are back. The
whole path with real processes is in tests/integration/test_faults.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from reload_helpers import node_file, running_node

from butterfly_config.history import AuditRecord
from butterfly_config.node.agreement import Outcome
from butterfly_config.node.service import Identity, PatchOperation, UpdateRefused

LEVEL = "network.compression.level"
Proposal = tuple[bytes, dict[str, Any]]


def answered(outcome: Outcome | None, calls: list[Proposal]) -> Any:
    """A driver.propose that records the proposal and answers `outcome` (None: never)."""

    def propose(document: bytes, **kwargs: Any) -> asyncio.Future[Outcome]:
        calls.append((document, kwargs))
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        if outcome is not None:
            future.set_result(outcome)
        return future

    return propose


def newest_audit(node: Any, count: int) -> list[AuditRecord]:
    return list(reversed(node.runtime.store.list_audit(limit=count)))


@pytest.mark.parametrize("answer", ["aborted", "timeout"])
def test_an_update_reported_undecided_that_commits_later_is_audited_as_committed(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, answer: str) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager, driver = node.manager, node.runtime.driver
            real = driver.propose
            calls: list[Proposal] = []
            outcome = Outcome(False, kind="aborted", reason="prepare timeout")
            monkeypatch.setattr(driver, "propose",
                                answered(outcome if answer == "aborted" else None, calls))
            manager.decision_timeout_s = 0.05
            before = manager.revision
            with pytest.raises(UpdateRefused) as refused:
                await manager.patch([PatchOperation("set", LEVEL, 2)],
                                    identity=Identity("dev-admin"))
            [(document, kwargs)] = calls
            assert refused.value.status == 503
            assert manager.revision == before

            registry = node.runtime.metrics.registry

            def committed_late() -> float:
                return registry.get_sample_value("butterfly_config_updates_total",
                                                 {"result": "committed_late"}) or 0.0

            real(document, **kwargs)  # the protocol finishes the very same request later
            assert manager.revision == before + 1
            assert committed_late() == 1.0  # counted apart from its 503
            told, committed = newest_audit(node, 2)
            assert (told.actor, told.action, told.outcome) == ("dev-admin", "patch", answer)
            assert (committed.actor, committed.action, committed.outcome) == (
                "dev-admin", "patch", "committed")
            request_id = kwargs["request_id"]
            assert told.detail["request_id"] == request_id
            message = refused.value.message
            assert "may still commit" in message and request_id in message
            assert f"watch?after={before}" in message and "history" in message
            assert refused.value.as_dict()["request_id"] == request_id
            assert committed.detail["revision"] == before + 1
            assert committed.detail["paths"] == [LEVEL]
            assert committed.detail["request_id"] == request_id
            assert committed.detail["client_told"] == {
                "status": 503, "outcome": answer, "message": message}
            [entry] = manager.history(1, "cluster")
            assert (entry["revision"], entry["request_id"]) == (before + 1, request_id)

    asyncio.run(body())


def test_a_commit_answered_at_once_is_audited_once(tmp_path: Path) -> None:
    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            result = await node.manager.patch([PatchOperation("set", LEVEL, 4)],
                                              identity=Identity("dev-admin"))
            committed = [r for r in node.runtime.store.list_audit(limit=50)
                         if r.outcome == "committed"]
            assert len(committed) == 1
            assert committed[0].detail["revision"] == result.revision
            assert "client_told" not in committed[0].detail

    asyncio.run(body())


def test_a_commit_of_an_own_request_the_node_no_longer_tracks_is_audited(
        tmp_path: Path) -> None:
    """E.g. the node restarted after proposing it: the entry says who and what."""
    from butterfly_config.node import documents

    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            document = documents.document_of(manager.config.with_values({LEVEL: 7}))
            node.runtime.driver.propose(document, initiator="alice", action="update")
            assert manager.config.get_value(LEVEL) == 7
            [record] = newest_audit(node, 1)
            assert (record.actor, record.action, record.outcome) == ("alice", "update",
                                                                     "committed")
            assert record.detail["revision"] == manager.revision
            assert record.detail["paths"] == [LEVEL]

    asyncio.run(body())


def test_a_503_at_a_node_in_a_view_change_says_so(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A member alone in a higher view waits for its peers' coordinator: the answer says
    why no decision came and where an update is agreed sooner."""

    async def body() -> None:
        async with running_node(node_file(tmp_path)) as node:
            manager = node.manager
            monkeypatch.setattr(node.runtime.driver, "propose", answered(None, []))
            manager.status_provider = lambda: {"view": 4, "coordinator": "node-0",
                                               "established": False}
            manager.decision_timeout_s = 0.05
            with pytest.raises(UpdateRefused) as refused:
                await manager.patch([PatchOperation("set", LEVEL, 2)],
                                    identity=Identity("dev-admin"))
            assert refused.value.status == 503
            message = refused.value.message
            assert "in a view change to view 4 that its peers have not completed" in message
            assert "busy" not in message

    asyncio.run(body())
