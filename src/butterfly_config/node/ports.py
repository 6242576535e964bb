"""Free loopback ports for local clusters: tests, benchmarks, the threaded test server.

A port found by binding port 0 comes from Linux's ephemeral range (32768-60999),
the range outgoing connections take their local ports from. Between the pick and
the node binding it, another node's peer link or a client can take that port, and
the node then fails to start with "address in use". So ports are picked at random
below that range, where no outgoing connection lands, and checked by binding.
"""

from __future__ import annotations

import random
import socket

PORTS_FROM, PORTS_TO = 20_000, 32_000
"""Where ports are picked: below the ephemeral range, above the well-known services."""

_ATTEMPTS = 200


def free_port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive ports that are free on `host` right now.

    One block serves a whole cluster, so none of its ports can repeat.
    """
    if not 1 <= count <= PORTS_TO - PORTS_FROM:
        raise ValueError(f"cannot pick a block of {count} ports")
    rng = random.Random()
    for _ in range(_ATTEMPTS):
        base = rng.randrange(PORTS_FROM, PORTS_TO - count + 1)
        if _all_free(host, base, count):
            return base
    raise OSError(f"no {count} consecutive free ports on {host} in {PORTS_FROM}-{PORTS_TO}")


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
