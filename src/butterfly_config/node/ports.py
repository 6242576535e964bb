"""Free loopback ports for local clusters: tests, benchmarks, the threaded test server.

A port found by binding port 0 comes from the ephemeral range (Linux's
default: 32768-60999), the range outgoing connections take their local ports
from. Between the pick and the node binding it, another node's peer link or a
client can take that port, and the node then fails to start with "address in
use". So ports are picked at random outside that range, where no outgoing
connection lands, and checked by binding.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

EPHEMERAL_RANGE_FILE = Path("/proc/sys/net/ipv4/ip_local_port_range")
DEFAULT_EPHEMERAL = (32_768, 60_999)
LOWEST_PORT = 10_000
"""Nothing is picked below this: the well-known and commonly configured services."""
SPAN = 12_000
"""How many ports the picks spread over (fewer collisions between concurrent runs)."""
MIN_SPAN = 1_000

_ATTEMPTS = 200


def ephemeral_range() -> tuple[int, int]:
    """The machine's ephemeral port range (first, last), or Linux's default."""
    try:
        first, last = (int(x) for x in EPHEMERAL_RANGE_FILE.read_text().split())
    except (OSError, ValueError):
        return DEFAULT_EPHEMERAL
    return first, last


def pick_range() -> tuple[int, int]:
    """[start, stop) to pick from: just below the ephemeral range, else just above it."""
    first, last = ephemeral_range()
    if first - LOWEST_PORT >= MIN_SPAN:
        return max(LOWEST_PORT, first - SPAN), first
    if 65_536 - (last + 1) >= MIN_SPAN:
        return last + 1, min(65_536, last + 1 + SPAN)
    return LOWEST_PORT, 65_536  # no room outside it: the bind check is all there is


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive ports that are free on `host` right now.

    One block serves a whole cluster, so none of its ports can repeat.
    """
    start, stop = pick_range()
    if not 1 <= count <= stop - start:
        raise ValueError(f"cannot pick a block of {count} ports in {start}-{stop - 1}")
    rng = random.Random()
    for _ in range(_ATTEMPTS):
        base = rng.randrange(start, stop - count + 1)
        if _all_free(host, base, count):
            return base
    raise OSError(f"no {count} consecutive free ports on {host} in {start}-{stop - 1}")


def free_ports(count: int, host: str = "127.0.0.1") -> list[int]:
    """`count` distinct ports that are free on `host` right now."""
    base = free_port_block(count, host)
    return list(range(base, base + count))


def free_port(host: str = "127.0.0.1") -> int:
    """One port that is free on `host` right now."""
    return free_port_block(1, host)


def _all_free(host: str, base: int, count: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sockets: list[socket.socket] = []
    try:
        for port in range(base, base + count):
            sock = socket.socket(family, socket.SOCK_STREAM)
            sockets.append(sock)
            sock.bind((host, port))
        return True
    except OSError:
        return False
    finally:
        for sock in sockets:
            sock.close()
