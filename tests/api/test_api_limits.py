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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# -- property: nothing a client sends yields a 5xx -------------------------------------
_PATHS = [CONFIG, f"{CONFIG}/validate", f"{CONFIG}/history", f"{CONFIG}/sync",
          f"{CONFIG}/watch", "/api/v1/cluster/status", f"{CONFIG}/rollback/x", "/healthz",
          "/readyz", "/metrics", "/openapi.json", "/api/v1/nope"]
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)
_operations = st.fixed_dictionaries({
    "operations": st.lists(st.fixed_dictionaries(
        {"op": st.sampled_from(["set", "delete", "merge", "bogus"]),
         "path": st.sampled_from(["scheduling.policy", "network.compression", "byzantine.f_value",
                                  "observability.logging.level", "x.y", "", "network"])},
        optional={"value": _json_values}), max_size=4)})
_bodies = st.one_of(
    st.binary(max_size=200),
    st.text(max_size=200).map(str.encode),
    _json_values.map(lambda v: httpx.Request("POST", "/", json=v).content),
    _operations.map(lambda v: httpx.Request("POST", "/", json=v).content),
)
_query = st.dictionaries(st.sampled_from(["limit", "scope", "after", "timeout", "x"]),
                         st.text(max_size=6) | st.integers(-5, 5).map(str), max_size=3)


@settings(max_examples=300, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(method=st.sampled_from(["GET", "POST", "PATCH", "PUT", "DELETE"]),
       path=st.sampled_from(_PATHS), body=_bodies, query=_query,
       content_type=st.sampled_from(["application/json", "application/toml", "text/plain",
                                     "", "multipart/form-data", "application/json; charset=x"]),
       accept=st.sampled_from(["", "application/toml", "*/*", "text/html;q=x"]))
def test_no_request_yields_a_server_error(client: TestClient, method: str, path: str,
                                          body: bytes, query: dict[str, str],
                                          content_type: str, accept: str) -> None:
    if path.endswith("/watch"):
        query = {**query, "timeout": "0.001"}
    headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept)) if v}
    response = client.request(method, path, params=query, content=body, headers=headers)
    assert response.status_code < 500, (method, path, query, body, response.text)
