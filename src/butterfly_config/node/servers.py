"""Serving ASGI apps (the API and the peer endpoint) inside the node's own event loop.

uvicorn's `Server.serve()` is run as a task rather than `uvicorn.run`, so the
node keeps one loop for its consensus tick, its peers and its HTTP API, and
stops all of them together. TLS comes from files named in `security.tls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
from collections.abc import Generator
from typing import Any

import uvicorn

log = logging.getLogger("butterfly.servers")


def split_addr(addr: str) -> tuple[str, int]:
    host, _, port = addr.rpartition(":")
    return host.strip("[]"), int(port)


class NodeServer(uvicorn.Server):
    """A uvicorn server that leaves signals to the node, which stops every server itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


def make_server(
    app: Any,
    addr: str,
    *,
    ssl_context: ssl.SSLContext | None = None,
    client_certs: bool = False,
    stream_max_bytes: int | None = None,
) -> NodeServer:
    """A server for `app`. `client_certs`: the app reads the TLS client certificate (API
    with mTLS auth), which needs the TLS-aware h11 protocol; otherwise the faster httptools
    parser serves it. `stream_max_bytes`: accept WebSocket streams (the peer endpoint) with
    frames up to that size; a larger frame closes the stream (1009)."""
    from butterfly_config.node.api.server import build_config

    host, port = split_addr(addr)
    config = build_config(app, host, port, ssl_context=ssl_context)
    if not client_certs:
        config.http = "httptools"
    if stream_max_bytes is not None:
        config.ws = "websockets-sansio"
        config.ws_max_size = stream_max_bytes
        config.ws_per_message_deflate = False  # loopback and LAN: compression costs CPU
    config.timeout_graceful_shutdown = 3
    config.limit_concurrency = 512
    return NodeServer(config)


def bind_socket(addr: str, what: str) -> socket.socket:
    """Bind before serving, so "address in use" is a clear error and not an exit inside uvicorn."""
    from butterfly_config.errors import ConfigIOError

    host, port = split_addr(addr)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigIOError(
            f"cannot listen on {addr} for the {what}: {exc.strerror or exc}",
            hint="another process holds the port, or the address is not on this machine",
        ) from exc
    sock.listen(256)
    sock.setblocking(False)
    return sock


async def serve_on(server: uvicorn.Server, sock: socket.socket) -> None:
    """Run `server` on an already bound socket; a failure surfaces as OSError."""
    try:
        await server.serve(sockets=[sock])
    except SystemExit as exc:  # uvicorn exits on start-up failures (bad certificate...)
        raise OSError(f"server stopped during start-up (code {exc.code})") from None


async def wait_started(server: uvicorn.Server, task: asyncio.Task[None], timeout_s: float) -> None:
    """Return once `server` listens; raise if it died first (port in use, bad cert...)."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not server.started:
        if task.done():
            exc = task.exception()
            raise OSError(f"server failed to start: {exc or 'exited'}")
        if asyncio.get_running_loop().time() > deadline:
            raise OSError("server did not start in time")
        await asyncio.sleep(0.01)
