"""Shared pieces of the API tests: tokens, policy, a movable clock, a live server."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from api_fakes import FakeConfigService

from butterfly_config.node.api import ApiSettings, create_app
from butterfly_config.node.api.server import ThreadedServer
from butterfly_config.node.metrics import NodeMetrics
from butterfly_config.node.security.jwt_auth import create_token
from butterfly_config.node.security.rbac import Policy

SECRET = b"api-test-secret-0123456789abcdef0123"
ISSUER = "butterfly-cluster"
AUDIENCE = "butterfly-api"
T0 = 1_900_000_000.0

POLICY = Policy(
    roles={
        "admin": frozenset({"*"}),
        "operator": frozenset({"config:read", "config:write", "config:rollback"}),
        "reader": frozenset({"config:read"}),
    },
    default_action="deny",
)


class Clock:
    """Unix time that only moves when a test says so."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def token(*roles: str, subject: str = "alice", now: float = T0, ttl: int = 3600,
          secret: bytes = SECRET, audience: str = AUDIENCE, issuer: str = ISSUER) -> str:
    return create_token(secret, subject, roles, ttl, issuer, audience, now=now)


def bearer(*roles: str, **kwargs: Any) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(*roles, **kwargs)}"}


def jwt_settings(clock: Clock | None = None, **overrides: Any) -> ApiSettings:
    base = ApiSettings(require_auth=True, auth_method="jwt", jwt_secret=SECRET,
                       jwt_issuer=ISSUER, jwt_audience=AUDIENCE, policy=POLICY,
                       max_failed_auth_attempts=3, lockout_duration_secs=60,
                       clock=clock or Clock())
    return replace(base, **overrides)


OPEN = ApiSettings(require_auth=False, auth_method="none")


@contextmanager
def live_server(service: FakeConfigService, settings: ApiSettings = OPEN,
                metrics: NodeMetrics | None = None, **server_kwargs: Any
                ) -> Iterator[ThreadedServer]:
    app = create_app(service, settings, metrics)
    server = ThreadedServer(app, **server_kwargs).start()
    try:
        yield server
    finally:
        server.stop()
