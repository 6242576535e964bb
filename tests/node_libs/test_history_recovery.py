"""Start-up recovery: an edited file is never damage; real damage is, and is safe.

A node checked its stored revision 0 against revision 0 of its *file*, so a
static option edited in the file made the sound store look damaged at
revision 0: the node deleted every committed revision and then crashed on its
consensus state ("hard state is ahead of the log") with a traceback. Here a
standalone node commits revisions, stops, and starts again on an edited file
or a damaged store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from pathlib import Path

import pytest
from reload_helpers import Node, cluster_member, node_file, running_node

from butterfly_config.canonical import digest
from butterfly_config.cli.main import main
from butterfly_config.consensus.certificates import Verifier
from butterfly_config.errors import ConfigError
from butterfly_config.history.errors import HistoryCorrupt
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.logging_setup import logging_restored
from butterfly_config.node.reload import HotReloader
from butterfly_config.node.runtime import NodeRuntime, committed_verifier, consensus_params
from butterfly_config.node.security.signing_keys import generate_signing_keypair
from butterfly_config.node.service import Identity, PatchOperation
from butterfly_config.sources.toml_edit import set_options

OPTION = "metadata.config_version"


def committed_node(tmp_path: Path, updates: int = 2) -> Path:
    """A standalone node's file whose store holds revisions 0..updates; the node stopped.

    The node has a key file: with a key of one run only, its certificates could not
    be checked at the next start.
    """
    generate_signing_keypair(tmp_path)
    path = node_file(tmp_path)

    async def body() -> None:
        async with running_node(path) as node:
            for level in range(1, updates + 1):
                await node.manager.patch([PatchOperation("set", "network.compression.level",
                                                         level)], identity=Identity("admin"))

    asyncio.run(body())
    return path


def store_file(tmp_path: Path) -> Path:
    return tmp_path / "data" / "config" / "history.db"


def stored_revisions(tmp_path: Path) -> list[tuple[int, str]]:
    with contextlib.closing(sqlite3.connect(store_file(tmp_path))) as conn:
        return [(int(r[0]), str(r[1])) for r in conn.execute(
            "SELECT revision, entry_digest FROM revisions ORDER BY revision")]


def run_sql(tmp_path: Path, statement: str) -> None:
    with contextlib.closing(sqlite3.connect(store_file(tmp_path))) as conn:
        conn.execute(statement)
        conn.commit()


def build(path: Path) -> Node:
    with logging_restored():
        return Node(path)


def close(node: Node) -> None:
    node.manager.close()
    node.runtime.store.close()


def test_an_edited_static_option_keeps_the_history_and_is_a_conflict(tmp_path: Path) -> None:
    path = committed_node(tmp_path)
    before = stored_revisions(tmp_path)
    set_options(path, {OPTION: "1.0.1"})
    node = build(path)
    try:
        assert stored_revisions(tmp_path) == before  # nothing deleted
        assert node.manager.revision == 2
        assert node.value("network.compression.level") == 2
        assert node.value(OPTION) != "1.0.1"  # the committed value runs
        assert list(node.runtime.file_conflicts) == [OPTION]
        assert node.runtime.file_conflicts[OPTION][1] == "1.0.1"
        assert node.manager.restart_required_paths() == [OPTION]
        problem = node.runtime.file_problem
        assert f"(revision 2): {OPTION}" in problem and '-> "1.0.1"' in problem
        assert "docs/operations.md" in problem
        assert node.runtime.genesis.digest == before[0][1]  # stored revision 0, not the file's
    finally:
        close(node)


def test_the_node_is_ready_once_the_file_agrees_again(tmp_path: Path) -> None:
    path = committed_node(tmp_path, updates=1)
    original = path.read_text(encoding="utf-8")
    set_options(path, {OPTION: "1.0.1"})

    async def body() -> None:
        async with running_node(path) as node:
            runtime = node.runtime
            stop = asyncio.Event()
            genesis = asyncio.create_task(runtime._check_genesis(stop))
            await asyncio.sleep(0.3)
            ready, reason = node.manager.is_ready()
            assert not ready and OPTION in reason and "put the file's values back" in reason.lower()
            assert not genesis.done()
            reloader = HotReloader(node.manager, node.load, [path], runtime.base, settle_s=0.01)
            path.write_text(original, encoding="utf-8")
            await reloader.check()
            await asyncio.wait_for(genesis, 5.0)
            assert node.manager.is_ready() == (True, "standalone")
            assert node.manager.restart_required_paths() == []

    asyncio.run(body())


def test_a_file_naming_another_cluster_is_refused_and_the_store_kept(tmp_path: Path) -> None:
    path = committed_node(tmp_path)
    before = stored_revisions(tmp_path)
    set_options(path, {"metadata.cluster_name": "another-cluster"})
    with pytest.raises(ConfigError) as refused:
        build(path)
    assert refused.value.exit_code == 1
    text = refused.value.render()
    assert "metadata.cluster_name" in text and "'another-cluster'" in text
    assert str(store_file(tmp_path)) in text and "hint:" in text
    assert stored_revisions(tmp_path) == before
    set_options(path, {"metadata.cluster_name": "butterfly-main"})  # the default, put back
    close(build(path))


def test_a_damaged_certificate_is_still_damage(tmp_path: Path,
                                               caplog: pytest.LogCaptureFixture) -> None:
    """Without a consensus state reaching into it, the damaged tail is cut as before."""
    committed_node(tmp_path)
    run_sql(tmp_path, "UPDATE revisions SET certificate = x'00' WHERE revision = 2")
    run_sql(tmp_path, "DELETE FROM consensus_state")
    caplog.set_level(logging.ERROR, logger="butterfly")
    node = build(tmp_path / "node.toml")
    try:
        assert [r for r, _ in stored_revisions(tmp_path)] == [0, 1]
        assert node.manager.revision == 1
    finally:
        close(node)
    assert any("history store damaged at revision 2" in r.getMessage() for r in caplog.records)


def test_damage_below_the_consensus_state_refuses_to_start_and_deletes_nothing(
        tmp_path: Path) -> None:
    committed_node(tmp_path)
    run_sql(tmp_path, "UPDATE revisions SET certificate = x'00' WHERE revision = 2")
    before = stored_revisions(tmp_path)
    with pytest.raises(HistoryCorrupt) as refused:
        build(tmp_path / "node.toml")
    assert refused.value.exit_code == 2
    assert "damaged at revision 2" in refused.value.message
    assert str(store_file(tmp_path)) in refused.value.message
    assert "nothing was deleted" in refused.value.hint
    assert stored_revisions(tmp_path) == before


def test_a_consensus_state_ahead_of_the_log_is_one_message_not_a_traceback(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Revisions lost with the recorded head moved back too: the chain looks whole."""
    path = committed_node(tmp_path)
    run_sql(tmp_path, "DELETE FROM revisions WHERE revision = 2")
    run_sql(tmp_path, "UPDATE meta SET value = '1' WHERE key = 'head_revision'")
    with logging_restored():
        code = main(["start", "--config", str(path)])
    err = capsys.readouterr().err
    assert code == 2
    assert "Traceback" not in err
    assert "hard state is ahead of the log" in err and str(store_file(tmp_path)) in err
    assert "hint:" in err and "nothing was deleted" in err
    assert [r for r, _ in stored_revisions(tmp_path)] == [0, 1]


def test_certificates_are_checked_with_the_committed_membership(tmp_path: Path) -> None:
    """A member key replaced in the file must not make the stored history look forged."""
    runtime, layout = cluster_member(tmp_path)
    try:
        path = layout.nodes[0].config_path
        keys = {m.node_id: m.public_key for m in runtime.base.model.cluster.members}
        committed = runtime.params.members[2].public_key
        # the operator gives node-2 a new key in node-0's file
        pair = generate_signing_keypair(tmp_path / "new-key")
        path.write_text(path.read_text(encoding="utf-8").replace(keys["node-2"],
                                                                 pair.public_key_b64),
                        encoding="utf-8")
        edited = ConfigLoader().add_file(path).load()
        params = consensus_params(edited.model, runtime.signer, str(path.parent))
        assert params.members[2].public_key != committed
        fallback = Verifier(params, runtime.keyring, digest, runtime.genesis)
        verifier = committed_verifier(edited, runtime.store, runtime.signer, str(path.parent),
                                      fallback)
        assert verifier is not fallback
        assert verifier.params.members[2].public_key == committed
    finally:
        runtime.manager.close()
        runtime.store.close()


def test_a_node_whose_file_conflicts_agrees_under_the_committed_settings(
        tmp_path: Path) -> None:
    """Its file names another coordinator (static): the node is not ready, and its
    replica still follows the cluster's committed coordinator, not the file's (found
    by review: it followed the file's, so it ignored the real coordinator)."""
    runtime, layout = cluster_member(tmp_path)
    runtime.manager.close()
    runtime.store.close()
    path = layout.nodes[0].config_path
    set_options(path, {"network.coordinator_addr": layout.nodes[2].peer_addr})
    edited = NodeRuntime(base=ConfigLoader().add_file(path).load(), config_paths=[path])
    with logging_restored():
        edited.build()
    try:
        assert "network.coordinator_addr" in edited.file_conflicts
        assert edited.replica.coordinator == "node-0"  # the committed one
        assert edited.params.coordinator_of(0) == "node-0"
    finally:
        edited.manager.close()
        edited.store.close()


def test_a_file_that_renames_the_node_is_refused_naming_the_conflict(tmp_path: Path) -> None:
    """Renaming the node in its file (node.node_id and its cluster.members entry, a
    static option) leaves it outside the committed membership: it cannot take part,
    so it does not start, and the error says why (found by review: it said "add this
    node to [[cluster.members]]" about a file that does list it)."""
    runtime, layout = cluster_member(tmp_path)
    runtime.manager.close()
    runtime.store.close()
    path = layout.nodes[0].config_path
    path.write_text(path.read_text(encoding="utf-8").replace('"node-0"', '"node-9"', 2),
                    encoding="utf-8")
    before = stored_revisions(tmp_path / "node-0")
    edited = NodeRuntime(base=ConfigLoader().add_file(path).load(), config_paths=[path])
    with logging_restored(), pytest.raises(ConfigError) as refused:
        edited.build()
    message = refused.value.render()
    assert "cluster.members otherwise than the committed configuration" in message
    assert "cannot take part" in message and "not in cluster.members" in message
    assert "put the file's values back" in message
    assert stored_revisions(tmp_path / "node-0") == before  # nothing deleted
