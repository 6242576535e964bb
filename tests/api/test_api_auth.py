"""Authentication, authorization, lockout and audit of the API (jwt, api_key, none)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from api_fakes import FakeConfigService
from api_helpers import POLICY, SECRET, T0, Clock, bearer, jwt_settings, token
from fastapi.testclient import TestClient

from butterfly_config.errors import ConfigError
from butterfly_config.node.api import ApiSettings, create_app
from butterfly_config.node.metrics import NodeMetrics
from butterfly_config.node.security.api_keys import ApiKeyStore, hash_api_key

CONFIG = "/api/v1/config"
SET_POLICY = {"operations": [{"op": "set", "path": "scheduling.policy", "value": "round_robin"}]}


@pytest.fixture
def service() -> FakeConfigService:
    return FakeConfigService()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def metrics() -> NodeMetrics:
    return NodeMetrics()


@pytest.fixture
def client(service: FakeConfigService, clock: Clock, metrics: NodeMetrics) -> TestClient:
    return TestClient(create_app(service, jwt_settings(clock), metrics))


def auth_failures(metrics: NodeMetrics, reason: str) -> float:
    value = metrics.registry.get_sample_value("butterfly_config_auth_failures_total",
                                              {"reason": reason})
    return value or 0.0


def test_missing_token_is_401_with_challenge(client: TestClient, service: FakeConfigService,
                                             metrics: NodeMetrics) -> None:
    response = client.get(CONFIG)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["success"] is False
    actor, action, outcome, detail = service.audit_log[-1]
    assert (actor, outcome) == ("testclient", "unauthenticated")
    assert action == "api GET /api/v1/config"
    assert detail["reason"] == "missing credentials"
    assert auth_failures(metrics, "unauthenticated") == 1


@pytest.mark.parametrize("header", [
    f"Bearer {token('admin', secret=b'another-secret-another-secret-00')}",
    f"Bearer {token('admin', now=T0 - 7200)}",
    f"Bearer {token('admin', audience='someone-else')}",
    f"Bearer {token('admin', issuer='rogue-issuer')}",
    "Bearer not.a.jwt",
    "Bearer ",
    "Basic YWxpY2U6c2VjcmV0",
    f"Bearer {token('admin')}x",
])
def test_invalid_tokens_are_401(client: TestClient, service: FakeConfigService,
                                header: str) -> None:
    for method, path in (("GET", CONFIG), ("PATCH", CONFIG), ("POST", f"{CONFIG}/sync")):
        response = client.request(method, path, headers={"Authorization": header},
                                  json=SET_POLICY if method == "PATCH" else None)
        assert response.status_code in (401, 429), (method, response.text)
        assert "www-authenticate" in response.headers or response.status_code == 429
    assert service.revision == 0
    # No token material reaches the audit log.
    assert header.split(" ", 1)[-1] not in str(service.audit_log) or header.endswith(" ")


def test_token_expires_with_the_clock(client: TestClient, clock: Clock) -> None:
    headers = bearer("reader", ttl=60)
    assert client.get(CONFIG, headers=headers).status_code == 200
    clock.advance(61)
    expired = client.get(CONFIG, headers=headers)
    assert expired.status_code == 401
    assert "expired" in expired.json()["message"]


@pytest.mark.parametrize(("roles", "allowed"), [
    ((), set()),
    (("reader",), {"read", "validate"}),
    (("operator",), {"read", "validate", "write", "rollback"}),
    (("admin",), {"read", "validate", "write", "rollback", "sync", "reset"}),
    (("reader", "unknown-role"), {"read", "validate"}),
])
def test_permissions_by_role(client: TestClient, service: FakeConfigService,
                             roles: tuple[str, ...], allowed: set[str]) -> None:
    headers = bearer(*roles)
    calls = {
        "read": ("GET", CONFIG, None),
        "validate": ("POST", f"{CONFIG}/validate", {"scheduling": {"policy": "custom"}}),
        "write": ("PATCH", CONFIG, SET_POLICY),
        "rollback": ("POST", f"{CONFIG}/rollback/0", None),
        "sync": ("POST", f"{CONFIG}/sync", None),
        "reset": ("POST", "/api/v1/cluster/members/node-a/reputation/reset", None),
    }
    for name, (method, path, body) in calls.items():
        response = client.request(method, path, headers=headers, json=body)
        expected = 200 if name in allowed else 403
        assert response.status_code == expected, (name, response.text)
        if expected == 403:
            assert "lacks permission" in response.json()["message"]
            assert service.audit_log[-1][2] == "forbidden"
    for path in ("/history", "/watch?after=-1&timeout=0.01"):
        expected = 200 if "read" in allowed else 403
        assert client.get(CONFIG + path, headers=headers).status_code == expected
    expected = 200 if "read" in allowed else 403
    assert client.get("/api/v1/cluster/status", headers=headers).status_code == expected


def test_identity_reaches_the_service(client: TestClient) -> None:
    client.patch(CONFIG, json=SET_POLICY, headers=bearer("operator", subject="carol"))
    history = client.get(f"{CONFIG}/history", headers=bearer("reader")).json()
    assert history[0]["initiator"] == "carol"


def test_lockout_after_repeated_failures(client: TestClient, clock: Clock,
                                         service: FakeConfigService, metrics: NodeMetrics) -> None:
    good = bearer("admin")
    for _ in range(3):
        assert client.get(CONFIG, headers={"Authorization": "Bearer wrong"}).status_code == 401
    locked = client.get(CONFIG, headers=good)
    assert locked.status_code == 429
    assert 1 <= int(locked.headers["retry-after"]) <= 60
    assert "too many failed" in locked.json()["message"]
    assert service.audit_log[-1][3]["locked_out_secs"] == 60
    assert auth_failures(metrics, "locked_out") == 1
    # Another address is not affected.
    other = TestClient(client.app, client=("10.1.2.3", 40000))
    assert other.get(CONFIG, headers=good).status_code == 200
    clock.advance(61)
    assert client.get(CONFIG, headers=good).status_code == 200


def test_success_clears_earlier_failures(client: TestClient) -> None:
    for _ in range(2):
        client.get(CONFIG, headers={"Authorization": "Bearer wrong"})
    assert client.get(CONFIG, headers=bearer("reader")).status_code == 200
    for _ in range(2):
        client.get(CONFIG, headers={"Authorization": "Bearer wrong"})
    assert client.get(CONFIG, headers=bearer("reader")).status_code == 200


def test_forbidden_does_not_count_towards_lockout(client: TestClient) -> None:
    for _ in range(5):
        assert client.patch(CONFIG, json=SET_POLICY, headers=bearer("reader")).status_code == 403
    assert client.get(CONFIG, headers=bearer("reader")).status_code == 200


def test_without_access_control_any_authenticated_caller_is_allowed(
        service: FakeConfigService) -> None:
    client = TestClient(create_app(service, jwt_settings(policy=None)))
    assert client.patch(CONFIG, json=SET_POLICY, headers=bearer()).status_code == 200
    assert client.patch(CONFIG, json=SET_POLICY).status_code == 401


def test_default_action_allow_opens_unnamed_permissions(service: FakeConfigService) -> None:
    policy = replace(POLICY, roles={"reader": frozenset({"config:read"})},
                     default_action="allow")
    client = TestClient(create_app(service, jwt_settings(policy=policy)))
    headers = bearer("reader")
    assert client.post(f"{CONFIG}/sync", headers=headers).status_code == 200
    assert client.patch(CONFIG, json=SET_POLICY, headers=headers).status_code == 200


@pytest.mark.parametrize("settings", [
    ApiSettings(require_auth=False, auth_method="jwt"),
    ApiSettings(require_auth=True, auth_method="none"),
])
def test_auth_disabled_lets_everyone_in(service: FakeConfigService,
                                        settings: ApiSettings) -> None:
    client = TestClient(create_app(service, settings))
    assert client.post(f"{CONFIG}/sync").status_code == 200
    assert client.patch(CONFIG, json=SET_POLICY).status_code == 200
    assert client.get(f"{CONFIG}/history").json()[0]["initiator"] == "anonymous@testclient"


def test_jwt_without_secret_is_a_configuration_error(service: FakeConfigService) -> None:
    with pytest.raises(ConfigError) as info:
        create_app(service, ApiSettings(auth_method="jwt", jwt_secret=b""))
    assert info.value.errors[0].path == "security.api.jwt_secret_file"
    with pytest.raises(ConfigError):
        create_app(service, ApiSettings(auth_method="api_key"))


def test_api_keys(service: FakeConfigService, clock: Clock) -> None:
    store = ApiKeyStore.from_hashes({
        "ci-deploy": (hash_api_key("bfk_operator-key"), ["operator"]),
        "dashboard": (hash_api_key("bfk_reader-key"), ["reader"]),
    })
    settings = jwt_settings(clock, auth_method="api_key", api_keys=store, jwt_secret=b"")
    client = TestClient(create_app(service, settings))
    for headers in ({"X-API-Key": "bfk_operator-key"},
                    {"Authorization": "Bearer bfk_operator-key"},
                    {"Authorization": "ApiKey bfk_operator-key"}):
        assert client.patch(CONFIG, json=SET_POLICY, headers=headers).status_code == 200
    assert client.patch(CONFIG, json=SET_POLICY,
                        headers={"X-API-Key": "bfk_reader-key"}).status_code == 403
    refused = client.get(CONFIG, headers={"X-API-Key": "bfk_guess"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"].startswith("ApiKey")
    assert client.get(CONFIG).status_code == 401
    assert "bfk_guess" not in str(service.audit_log)
    assert client.get(f"{CONFIG}/history", headers={"X-API-Key": "bfk_reader-key"}
                      ).json()[0]["initiator"] == "ci-deploy"


def test_mtls_without_tls_connection_is_401(service: FakeConfigService) -> None:
    client = TestClient(create_app(service, jwt_settings(auth_method="mtls")))
    response = client.get(CONFIG, headers=bearer("admin"))
    assert response.status_code == 401
    assert "client certificate" in response.json()["message"]


def test_audit_failure_does_not_turn_401_into_500(service: FakeConfigService) -> None:
    def broken_audit(*_args: object) -> None:
        raise OSError("disk full")

    service.audit = broken_audit  # type: ignore[method-assign]
    client = TestClient(create_app(service, jwt_settings()))
    assert client.get(CONFIG).status_code == 401


def test_secret_is_not_echoed(client: TestClient) -> None:
    response = client.get(CONFIG, headers={"Authorization": "Bearer " + SECRET.decode()})
    assert SECRET.decode() not in response.text
