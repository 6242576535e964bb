"""Free loopback ports for local clusters: below the ephemeral range, free, never repeated."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from butterfly_config.node import ports
from butterfly_config.node.ports import PORTS_FROM, PORTS_TO, free_port, free_port_block, free_ports


def ephemeral_range() -> tuple[int, int]:
    text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
    return int(text[0]), int(text[1])


def test_a_block_is_consecutive_free_and_below_the_ephemeral_range() -> None:
    low, _ = ephemeral_range()
    for _ in range(20):
        block = free_ports(12)
        assert block == list(range(block[0], block[0] + 12))
        assert block[0] >= PORTS_FROM and block[-1] < min(PORTS_TO, low)
        held = []
        try:
            for port in block:  # every port of the block can be bound, together
                sock = socket.socket()
                held.append(sock)
                sock.bind(("127.0.0.1", port))
        finally:
            for sock in held:
                sock.close()


def test_a_port_in_use_is_never_picked(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        held = holder.getsockname()[1]
        # three candidate blocks of two: over held - 1 and held, over held and
        # held + 1, and held + 1 and held + 2, the only one without the held port
        monkeypatch.setattr(ports, "PORTS_FROM", held - 1)
        monkeypatch.setattr(ports, "PORTS_TO", held + 3)
        seen = {free_port_block(2) for _ in range(30)}
    assert seen == {held + 1}


def test_no_free_block_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", free_port()))
        held = holder.getsockname()[1]
        monkeypatch.setattr(ports, "PORTS_FROM", held)
        monkeypatch.setattr(ports, "PORTS_TO", held + 1)
        with pytest.raises(OSError, match="no 1 consecutive free ports"):
            free_port()
    with pytest.raises(ValueError):
        free_port_block(0)
