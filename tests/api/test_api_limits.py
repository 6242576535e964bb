"""Body size limits (413) and robustness: no request shape produces a 5xx."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from api_fakes import FakeConfigService
from api_helpers import OPEN, bearer, jwt_settings, live_server
from fastapi.testclient import TestClient

from butterfly_config.node.api import create_app
from butterfly_config.node.api.limits import BodySizeLimit

CONFIG = "/api/v1/config"
TEN_MB = b"a" * (10 * 1024 * 1024)


@pytest.fixture(scope="module")
def client() -> TestClient:
    return TestClient(create_app(FakeConfigService(), OPEN))


@pytest.mark.parametrize(("method", "path"), [
    ("POST", CONFIG), ("PATCH", CONFIG), ("POST", f"{CONFIG}/validate"),
    ("POST", f"{CONFIG}/sync"), ("POST", f"{CONFIG}/rollback/1"),
])
def test_ten_megabytes_is_413(client: TestClient, method: str, path: str) -> None:
    response = client.request(method, path, content=TEN_MB,
                              headers={"Content-Type": "application/toml"})
    assert response.status_code == 413
    assert "too large" in response.json()["message"]


def test_chunked_body_without_length_is_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(40):
            yield b"x" * 65536

    response = client.post(CONFIG, content=chunks(), headers={"Content-Type": "application/toml"})
    assert response.status_code == 413


def test_413_comes_before_authentication() -> None:
    client = TestClient(create_app(FakeConfigService(), jwt_settings()))
    assert client.post(CONFIG, content=TEN_MB).status_code == 413
    assert client.post(CONFIG, content=TEN_MB, headers=bearer("admin")).status_code == 413


def _call_asgi(app: Any, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
               ) -> tuple[int, bytes, bool]:
    """Drive an ASGI app with a body arriving in `chunks`; (status, body, app_reached)."""
    sent: list[dict[str, Any]] = []
    reached = False
    pending = [{"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
               for i, c in enumerate(chunks)]

    async def receive() -> dict[str, Any]:
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def inner(scope: Any, recv: Any, snd: Any) -> None:
        nonlocal reached
        reached = True
        await app(scope, recv, snd)

    scope = {"type": "http", "method": "POST", "path": CONFIG, "headers": headers,
             "query_string": b"", "raw_path": CONFIG.encode(), "root_path": "",
             "scheme": "http", "server": ("t", 80), "client": ("1.2.3.4", 5),
             "http_version": "1.1", "asgi": {"version": "3.0"}}
    asyncio.run(BodySizeLimit(inner, 1024)(scope, receive, send))
    status = next(m["status"] for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return status, body, reached


async def _echo_length(scope: Any, receive: Any, send: Any) -> None:
    total = 0
    while True:
        message = await receive()
        total += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(total).encode()})


def test_lying_content_length_cannot_bypass_the_limit() -> None:
    status, _body, reached = _call_asgi(_echo_length, [(b"content-length", b"10")],
                                        [b"y" * 600, b"y" * 600])
    assert status == 413
    assert not reached
    status, body, reached = _call_asgi(_echo_length, [(b"content-length", b"5000")], [b"z"])
    assert status == 413  # declared too large: refused before reading
    status, body, reached = _call_asgi(_echo_length, [], [b"q" * 500, b"q" * 524])
    assert (status, body, reached) == (200, b"1024", True)


def test_live_server_refuses_large_and_chunked_bodies() -> None:
    with live_server(FakeConfigService()) as server, httpx.Client(base_url=server.url) as http:
        assert http.post(CONFIG, content=TEN_MB).status_code == 413

        def chunks() -> Iterator[bytes]:
            for _ in range(64):
                yield b"k" * 32768

        assert http.post(CONFIG, content=chunks()).status_code == 413
        # A lying Content-Length: the server reads only what was declared; the rest
        # is not a body and never reaches a handler as one.
        with socket.create_connection((server.host, server.port), timeout=5) as sock:
            sock.sendall(b"PATCH /api/v1/config HTTP/1.1\r\nHost: x\r\n"
                         b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n"
                         + b"{}" + b"A" * 200_000)
            reply = sock.recv(4096)
        assert reply.startswith(b"HTTP/1.1 400")
        assert http.get("/healthz").status_code == 200
