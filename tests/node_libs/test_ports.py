"""Free loopback ports for local clusters: outside the ephemeral range, free, never repeated."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from butterfly_config.node import ports
from butterfly_config.node.ports import (
    ephemeral_range,
    free_port,
    free_port_block,
    free_ports,
    pick_range,
)


def test_a_block_is_consecutive_free_and_outside_the_ephemeral_range() -> None:
    first, last = ephemeral_range()
    for _ in range(20):
        block = free_ports(12)
        assert block == list(range(block[0], block[0] + 12))
        assert block[-1] < first or block[0] > last
        held = []
        try:
            for port in block:  # every port of the block can be bound, together
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
        finally:
            for sock in held:
                sock.close()


def test_the_range_follows_the_machines_ephemeral_range(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    setting = tmp_path / "ip_local_port_range"
    monkeypatch.setattr(ports, "EPHEMERAL_RANGE_FILE", setting)
    setting.write_text("32768\t60999\n")
    assert pick_range() == (20_768, 32_768)
    setting.write_text("10500 40000\n")  # no room below: just above it
    assert pick_range() == (40_001, 52_001)
    setting.write_text("10500 65000\n")  # no room on either side: anywhere
    assert pick_range() == (10_000, 65_536)
    setting.write_text("garbage")
    assert ephemeral_range() == (32_768, 60_999)
    setting.unlink()
    assert ephemeral_range() == (32_768, 60_999)


def test_a_port_in_use_is_never_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        held = holder.getsockname()[1]
        # three candidate blocks of two: over held - 1 and held, over held and
        # held + 1, and held + 1 and held + 2, the only one without the held port
        monkeypatch.setattr(ports, "pick_range", lambda: (held - 1, held + 3))
        seen = {free_port_block(2) for _ in range(30)}
    assert seen == {held + 1}


def test_no_free_block_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        held = holder.getsockname()[1]
        monkeypatch.setattr(ports, "pick_range", lambda: (held, held + 1))
        with pytest.raises(OSError, match="no 1 consecutive free ports"):
            free_port()
        with pytest.raises(ValueError, match="block of 2 ports"):
            free_port_block(2)
    with pytest.raises(ValueError):
        free_port_block(0)


def test_a_free_dev_layout_has_three_distinct_free_ports_per_node(tmp_path: Path) -> None:
    from butterfly_config.cli.dev_cmd import plan_free_layout

    layout = plan_free_layout(tmp_path, 4)
    addrs = [addr for node in layout.nodes
             for addr in (node.peer_addr, node.api_addr, node.metrics_addr)]
    assert len(set(addrs)) == 12 and all(a.startswith("127.0.0.1:") for a in addrs)
    first, last = ephemeral_range()
    assert all(not first <= int(a.rsplit(":", 1)[1]) <= last for a in addrs)
