"""A node whose history store fails (disk full, read-only, I/O error) stops, exit code 1.

It must not vote or apply without a durable history, and a supervisor must see
a failure to restart it: the node used to stop with exit code 0 when the tick
loop met the error, and to log a traceback per peer message and keep running
when a message met it.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

import pytest
from reload_helpers import cluster_member, logging_restored, node_file

from butterfly_config.history.errors import HistoryError
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.ports import free_ports
from butterfly_config.node.runtime import NodeRuntime
from butterfly_config.node.service import Identity, PatchOperation

LEVEL = "network.compression.level"
DISK_FULL = "the history database cannot be used right now (database or disk is full)"


def test_a_failing_store_stops_the_node_with_exit_code_1(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    peer_port, api_port = free_ports(2)
    path = node_file(tmp_path, f'[network]\nlisten_addr = "127.0.0.1:{peer_port}"\n'
                               f'api_addr = "127.0.0.1:{api_port}"\n'
                               '[security.api]\nauth_method = "none"\n'
                               '[security.access_control]\npolicy = "none"\n')

    async def body() -> int:
        with logging_restored():
            runtime = NodeRuntime(base=ConfigLoader().add_file(path).load(),
                                  config_paths=[path])
            runtime.build()
            stop = asyncio.Event()
            running = asyncio.create_task(runtime.run(stop))
            for _ in range(200):
                if runtime.genesis_ok:
                    break
                await asyncio.sleep(0.05)
            before = runtime.manager.revision

            def full(*_args: Any, **_kwargs: Any) -> None:
                raise HistoryError(f"{runtime.store.path}: {DISK_FULL}",
                                   hint="check free disk space and permissions of node.data_dir")

            monkeypatch.setattr(runtime.store, "append_revision", full)
            monkeypatch.setattr(runtime.store, "save_consensus_state", full)
            received: list[bytes] = []
            monkeypatch.setattr(runtime.driver, "receive", received.append)
            caplog.set_level(logging.ERROR, logger="butterfly")
            with pytest.raises(HistoryError):
                await runtime.manager.patch([PatchOperation("set", LEVEL, 9)],
                                            identity=Identity("admin"))
            assert runtime.exit_code == 1 and stop.is_set()
            assert runtime.manager.revision == before  # nothing applied
            runtime._on_peer_message(b"a peer's message")
            assert received == []  # a stopping node takes no more votes
            return await asyncio.wait_for(running, 20)

    assert asyncio.run(body()) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "the history store failed; stopping the node (exit code 1)" in errors[0]
    assert DISK_FULL in errors[0] and "check free disk space" in errors[0]


@pytest.mark.parametrize("failure", ["store", "bug"])
def test_a_batch_the_driver_cannot_carry_out_stops_the_node(
        tmp_path: Path, caplog: pytest.LogCaptureFixture, failure: str) -> None:
    """The driver halts (nothing after such a batch may be voted or applied) and tells the
    runtime, which stops with exit code 1 so that a supervisor restarts the node; this
    also covers a coordinator's write in the loop's turn after its FINALIZE went out
    (agreement.py), where no message handler is there to catch what it raises."""
    runtime, _layout = cluster_member(tmp_path)
    try:
        caplog.set_level(logging.ERROR, logger="butterfly")
        error = (HistoryError(f"{runtime.store.path}: {DISK_FULL}") if failure == "store"
                 else RuntimeError("a bug"))
        assert runtime.driver.on_error is not None
        runtime.driver.on_error(error)
        assert runtime.exit_code == 1
        assert "stopping the node (exit code 1)" in caplog.text
        runtime.driver.on_error(error)  # reported once
        assert caplog.text.count("stopping the node") == 1
    finally:
        runtime.manager.close()
        runtime.store.close()
