"""Serving the API with uvicorn, with the client certificate visible to the app.

uvicorn does not fill the ASGI TLS extension (`scope["extensions"]["tls"]`),
so an application cannot see the client certificate of an mTLS connection.
`TlsScopeH11Protocol` is uvicorn's h11 protocol with one addition: once the
TLS handshake is done (asyncio calls `connection_made` after it) it reads the
peer certificate from the transport's `ssl_object` and wraps the app of that
connection so every request's scope carries the extension as the ASGI spec
describes it (`client_cert_chain` as PEM strings, `client_cert_name` as an
RFC 4514 name, `tls_version`). Plain HTTP connections are left untouched.

`build_config` is what the node runtime uses (run `uvicorn.Server(config)
.serve()` inside the node's event loop so handlers and the runtime share it);
`ThreadedServer` runs a server in its own thread and loop, for tests and tools.
"""

from __future__ import annotations

import asyncio
import ssl
import threading
from collections.abc import Callable
from typing import Any

import uvicorn
from cryptography import x509
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from butterfly_config.node.ports import free_port

_TLS_VERSIONS = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(ssl_object: ssl.SSLObject | ssl.SSLSocket) -> dict[str, Any]:
    """The ASGI TLS extension for one established connection.

    A client certificate is reported only when the server context verifies
    client certificates (CERT_OPTIONAL or CERT_REQUIRED against the CA), so
    whatever lands in `client_cert_chain` has passed chain verification.
    """
    verified = ssl_object.context.verify_mode != ssl.CERT_NONE
    der = ssl_object.getpeercert(binary_form=True) if verified else None
    chain: list[str] = []
    name: str | None = None
    if der:
        chain.append(ssl.DER_cert_to_PEM_cert(der))
        name = x509.load_der_x509_certificate(der).subject.rfc4514_string()
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


class _WithTlsScope:
    """Wraps one connection's app so its requests see the TLS extension."""

    def __init__(self, app: ASGIApp, tls: dict[str, Any]) -> None:
        self.app = app
        self.tls = tls

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        extensions = dict(scope.get("extensions") or {})
        extensions["tls"] = self.tls
        await self.app({**scope, "extensions": extensions}, receive, send)


class TlsScopeH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, filling the ASGI TLS extension on TLS connections."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        ssl_object = transport.get_extra_info("ssl_object")
        if ssl_object is not None:
            self.app = _WithTlsScope(self.app, tls_extension(ssl_object))


def build_config(
    app: ASGIApp,
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    log_level: str = "warning",
) -> uvicorn.Config:
    """A uvicorn configuration for the API; `ssl_context` enables HTTPS (and mTLS)."""
    factory: Callable[[uvicorn.Config, Callable[[], ssl.SSLContext]], ssl.SSLContext] | None = None
    if ssl_context is not None:
        context = ssl_context

        def factory(_config: uvicorn.Config, _default: Callable[[], ssl.SSLContext]) -> (
            ssl.SSLContext
        ):
            return context

    return uvicorn.Config(
        app,
        host=host,
        port=port,
        http=TlsScopeH11Protocol,
        ws="none",
        lifespan="off",
        log_level=log_level,
        access_log=False,
        ssl_context_factory=factory,
    )


class ThreadedServer:
    """A uvicorn server in a background thread with its own event loop."""

    def __init__(
        self,
        app: ASGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port or free_port(host)
        self.scheme = "https" if ssl_context is not None else "http"
        self.server = uvicorn.Server(build_config(app, host, self.port, ssl_context=ssl_context))
        self._thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def start(self, timeout: float = 10.0) -> ThreadedServer:
        self._thread.start()
        deadline = threading.Event()
        waited = 0.0
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError(f"API server on {self.url} stopped during start-up")
            if waited >= timeout:
                raise RuntimeError(f"API server on {self.url} did not start in {timeout}s")
            deadline.wait(0.02)
            waited += 0.02
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()
