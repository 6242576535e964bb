"""The runtime's own changes to the replica (a catch-up request, a failure detector's
advice, a suspected coordinator, a reputation reset) come after any write the driver
still owes (a coordinator writes a revision in the loop's turn after its FINALIZE left,
agreement.py), so the replica never runs ahead of its store."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from reload_helpers import cluster_member

CHANGES = {
    "sync": ("request_sync", lambda rt: rt._sync_now()),
    "unresponsive": ("set_unresponsive", lambda rt: rt._mark_unresponsive(frozenset({"node-2"}))),
    "suspect": ("suspect_coordinator", lambda rt: rt._suspect_coordinator()),
    "reputation": ("reset_reputation", lambda rt: rt._reset_reputation("node-2")),
}


@pytest.mark.parametrize("name", sorted(CHANGES))
def test_the_pending_write_comes_before_the_change(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    method, run = CHANGES[name]
    runtime, _layout = cluster_member(tmp_path)
    order: list[str] = []
    try:
        real_settle = runtime.driver.settle
        monkeypatch.setattr(runtime.driver, "settle",
                            lambda: (order.append("settle"), real_settle())[1])
        real = getattr(runtime.replica, method)

        def changed(*args: Any) -> Any:
            order.append(method)
            return real(*args)

        monkeypatch.setattr(runtime.replica, method, changed)
        run(runtime)
        assert order == ["settle", method]
    finally:
        runtime.manager.close()
        runtime.store.close()
