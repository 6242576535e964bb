"""Every endpoint of DESIGN 1.9 through FastAPI's TestClient, against the in-memory service."""

from __future__ import annotations

import threading
import time
import tomllib

import orjson
import pytest
from api_fakes import SECRET_MARKER, FakeConfigService
from api_helpers import OPEN, bearer, jwt_settings
from fastapi.testclient import TestClient

from butterfly_config.errors import ConfigIssue, StaticChangeError, ValidationFailed
from butterfly_config.node.api import create_app
from butterfly_config.node.api.negotiation import if_match_tags
from butterfly_config.node.metrics import NodeMetrics
from butterfly_config.schema import registry

CONFIG = "/api/v1/config"


@pytest.fixture
def service() -> FakeConfigService:
    return FakeConfigService()


@pytest.fixture
def client(service: FakeConfigService) -> TestClient:
    return TestClient(create_app(service, OPEN))


def set_op(path: str, value: object) -> dict[str, object]:
    return {"operations": [{"op": "set", "path": path, "value": value}]}


# -- GET /api/v1/config --------------------------------------------------------------
def test_get_config_json_has_etag_and_revision(client: TestClient,
                                               service: FakeConfigService) -> None:
    response = client.get(CONFIG)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["etag"] == f'"{service.cluster_hash}"'
    assert response.headers["x-config-revision"] == "0"
    body = response.json()
    assert body["scheduling"]["policy"] == "predictive"
    assert body["node"]["node_id"] == "node-a"


def test_get_config_toml_on_accept(client: TestClient) -> None:
    response = client.get(CONFIG, headers={"Accept": "application/toml"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/toml")
    assert tomllib.loads(response.text)["scheduling"]["policy"] == "predictive"
    # JSON wins when preferred or equal; */* means JSON.
    for accept in ("application/json, application/toml;q=0.5", "*/*",
                   "application/toml;q=0.2, application/json;q=0.9"):
        assert client.get(CONFIG, headers={"Accept": accept}).headers[
            "content-type"].startswith("application/json")


def test_get_config_redacts_secrets(client: TestClient) -> None:
    assert SECRET_MARKER not in client.get(CONFIG).text
    assert SECRET_MARKER not in client.get(CONFIG, headers={"Accept": "application/toml"}).text


def test_if_none_match_gives_304_until_the_hash_changes(client: TestClient) -> None:
    etag = client.get(CONFIG).headers["etag"]
    not_modified = client.get(CONFIG, headers={"If-None-Match": etag})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["etag"] == etag
    assert client.get(CONFIG, headers={"If-None-Match": f"W/{etag}"}).status_code == 304
    assert client.get(CONFIG, headers={"If-None-Match": '"other", ' + etag}).status_code == 304
    assert client.get(CONFIG, headers={"If-None-Match": '"other"'}).status_code == 200
    assert client.patch(CONFIG, json=set_op("scheduling.policy", "least_loaded")
                        ).status_code == 200
    changed = client.get(CONFIG, headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] != etag
    assert changed.headers["x-config-revision"] == "1"


# -- PATCH ---------------------------------------------------------------------------
def test_patch_set_commits_a_revision(client: TestClient, service: FakeConfigService) -> None:
    response = client.patch(CONFIG, json=set_op("scheduling.policy", "round_robin"))
    assert response.status_code == 200
    body = response.json()
    assert body["success"] is True
    assert body["revision"] == 1 == service.revision
    assert body["cluster_hash"] == service.cluster_hash
    assert {"version", "applied_at", "rollback_available"} <= set(body)
    assert body["changed_paths"] == ["scheduling.policy"]
    assert client.get(CONFIG).json()["scheduling"]["policy"] == "round_robin"


def test_patch_delete_and_merge(client: TestClient) -> None:
    client.patch(CONFIG, json=set_op("scheduling.policy", "round_robin"))
    deleted = client.patch(CONFIG, json={"operations": [
        {"op": "delete", "path": "scheduling.policy"}]})
    assert deleted.status_code == 200
    assert client.get(CONFIG).json()["scheduling"]["policy"] == "predictive"
    merged = client.patch(CONFIG, json={"operations": [
        {"op": "merge", "path": "network.compression", "value": {"level": 5}}]})
    assert merged.status_code == 200, merged.text
    assert client.get(CONFIG).json()["network"]["compression"]["level"] == 5


def test_patch_static_option_is_409_with_restart_required(client: TestClient) -> None:
    response = client.patch(CONFIG, json={"operations": [
        {"op": "set", "path": "byzantine.f_value", "value": 2},
        {"op": "set", "path": "scheduling.policy", "value": "not-a-policy"}]})
    assert response.status_code == 409
    body = response.json()
    assert body["restart_required"] == ["byzantine.f_value"]
    assert body["errors"][0]["path"] == "byzantine.f_value"


def test_patch_invalid_value_is_400_with_issues(client: TestClient,
                                                service: FakeConfigService) -> None:
    response = client.patch(CONFIG, json=set_op("scheduling.policy", "fastest"))
    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["path"] == "scheduling.policy"
    assert set(error) >= {"path", "message", "hint", "rule"}
    assert service.revision == 0


def test_refusals_and_reports_give_issues_one_shape(client: TestClient) -> None:
    """A refused update and a validation report describe an issue with the same keys."""
    refused = client.patch(CONFIG, json=set_op("scheduling.polcy", "round_robin"))
    reported = client.post(f"{CONFIG}/validate", json={"scheduling": {"policy": 7}})
    assert refused.status_code == 400 and reported.status_code == 200
    refusal_keys = set(refused.json()["errors"][0])
    assert refusal_keys == set(reported.json()["errors"][0])
    assert refusal_keys >= {"path", "message", "hint", "rule", "severity"}


def test_patch_unknown_option_suggests(client: TestClient) -> None:
    response = client.patch(CONFIG, json=set_op("scheduling.polcy", "round_robin"))
    assert response.status_code == 400
    assert "scheduling.policy" in response.json()["errors"][0]["hint"]


def test_dynamic_local_patch_takes_no_cluster_revision(client: TestClient,
                                                       service: FakeConfigService) -> None:
    response = client.patch(CONFIG, json=set_op("observability.logging.level", "debug"))
    assert response.status_code == 200
    assert response.json()["scope"] == "local"
    assert service.revision == 0
    local = client.get(f"{CONFIG}/history", params={"scope": "local"}).json()
    assert local[0]["changes"][0]["path"] == "observability.logging.level"
    assert len(client.get(f"{CONFIG}/history").json()) == 1


@pytest.mark.parametrize("body", [
    b"", b"{", b"[]", b'"x"', b'{"operations": []}', b'{"operations": {}}',
    b'{"operations": [1]}', b'{"operations": [{"op": "replace", "path": "a", "value": 1}]}',
    b'{"operations": [{"op": "set", "path": ""}]}',
    b'{"operations": [{"op": "set", "path": "a..b", "value": 1}]}',
    b'{"operations": [{"op": "set", "path": 3, "value": 1}]}',
    b'{"operations": [{"op": "merge", "path": "network", "value": 3}]}',
    b'{"operations": [{"op": "set", "path": "a", "value": 1, "extra": 2}]}',
    b'{"ops": []}', b"\xff\xfe", b'{"operations": [{"op": "set", "path": "x"}]}',
])
def test_malformed_patch_bodies_are_400(client: TestClient, body: bytes) -> None:
    response = client.patch(CONFIG, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.json()["message"]


@pytest.mark.parametrize(("body", "content_type", "expected"), [
    (b"[1, 2]", "application/json", "must be a JSON object {\"operations\""),
    (b'"set"', "application/json", "got str"),
    (b'[network.compression]\nlevel = 3\n', "application/toml", "PATCH takes JSON"),
])
def test_patch_bodies_of_the_wrong_shape_say_what_patch_takes(
        client: TestClient, body: bytes, content_type: str, expected: str) -> None:
    response = client.patch(CONFIG, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert expected in message and "table of sections" not in message


# -- POST (full configuration) -------------------------------------------------------
def test_post_full_toml_configuration(client: TestClient, service: FakeConfigService) -> None:
    document = client.get(CONFIG, headers={"Accept": "application/toml"}).text
    document = document.replace('policy = "predictive"', 'policy = "least_loaded"', 1)
    response = client.post(CONFIG, content=document.encode(),
                           headers={"Content-Type": "application/toml"})
    assert response.status_code == 200, response.text
    assert response.json()["revision"] == 1
    assert client.get(CONFIG).json()["scheduling"]["policy"] == "least_loaded"
    # The redacted secrets sent back did not overwrite the real ones.
    assert SECRET_MARKER in str(service._leaves.values())


def test_post_full_json_configuration(client: TestClient) -> None:
    document = client.get(CONFIG).json()
    document["partition"]["strategy"] = "load_balanced"
    response = client.post(CONFIG, json=document)
    assert response.status_code == 200, response.text
    assert response.json()["changed_paths"] == ["partition.strategy"]


@pytest.mark.parametrize(("body", "content_type"), [
    (b"policy = = 3", "application/toml"),
    (b"[scheduling\npolicy = 1", "application/toml"),
    (b'{"a": ', "application/json"),
    (b"[1, 2]", "application/json"),
    (b"", "application/toml"),
    (b"a = 1", "image/png"),
    (b"\xc3\x28 = 1", "application/toml"),
    (b"x = " + b"[" * 5000 + b"]" * 5000, "application/toml"),
    (b"[" * 5000 + b"]" * 5000, "application/json"),
])
def test_malformed_configuration_bodies_are_400(client: TestClient, body: bytes,
                                                content_type: str) -> None:
    response = client.post(CONFIG, content=body, headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False


@pytest.mark.parametrize(("body", "content_type", "message", "line", "column"), [
    (b"policy = = 3", "application/toml", "invalid TOML: Invalid value", 1, 10),
    (b"[scheduling\npolicy = 1", "application/toml",
     "invalid TOML: Expected ']' at the end of a table declaration", 1, 12),
    (b'{"a": ', "application/json", "invalid JSON: unexpected end of data", 1, 7),
    (b'{"a": 1,\n "b": x}', None, "invalid JSON: unexpected character", 2, 7),
    (b"[1, 2]", "application/json", "the JSON body must be an object", None, None),
    (b"\xc3\x28 = 1", "application/toml", "not UTF-8 text (byte 0)", None, None),
    (b"x = " + b"[" * 5000 + b"]" * 5000, "application/toml", "invalid TOML: values are nested",
     None, None),
])
def test_a_body_that_does_not_parse_is_an_invalid_validation_result(
        client: TestClient, body: bytes, content_type: str | None, message: str,
        line: int | None, column: int | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(f"{CONFIG}/validate", content=body, headers=headers)
    assert response.status_code == 200, response.text
    report = response.json()
    assert (report["valid"], report["warnings"]) == (False, [])
    [error] = report["errors"]
    assert error["message"].startswith(message), error
    assert (error["path"], error["rule"], error["severity"]) == ("", "syntax", "error")
    assert error["hint"] or line is None
    assert (error.get("line"), error.get("column")) == (line, column)


@pytest.mark.parametrize(("body", "content_type"), [
    (b"", "application/toml"),
    (b"a = 1", "image/png"),
])
def test_validate_refuses_a_malformed_request_with_400(client: TestClient, body: bytes,
                                                       content_type: str) -> None:
    response = client.post(f"{CONFIG}/validate", content=body,
                           headers={"Content-Type": content_type})
    assert response.status_code == 400, response.text
    assert response.json()["success"] is False


def test_post_static_change_is_409(client: TestClient) -> None:
    document = client.get(CONFIG).json()
    document["byzantine"]["f_value"] = 3
    assert client.post(CONFIG, json=document).status_code == 409


def test_no_quorum_is_503_and_nothing_applied(client: TestClient,
                                              service: FakeConfigService) -> None:
    service.quorum_lost = True
    response = client.patch(CONFIG, json=set_op("scheduling.policy", "round_robin"))
    assert response.status_code == 503
    assert "quorum" in response.json()["message"]
    assert service.revision == 0


def test_update_in_progress_is_409(client: TestClient, service: FakeConfigService) -> None:
    service.update_in_progress = True
    assert client.patch(CONFIG, json=set_op("scheduling.policy", "round_robin")
                        ).status_code == 409


# -- validate ------------------------------------------------------------------------
def test_validate_reports_without_applying(client: TestClient,
                                           service: FakeConfigService) -> None:
    good = client.post(f"{CONFIG}/validate", content=b'[scheduling]\npolicy = "least_loaded"\n',
                       headers={"Content-Type": "application/toml"})
    assert good.status_code == 200
    report = good.json()
    assert (report["valid"], report["errors"]) == (True, [])
    # A standalone node (no cluster.members) is valid with a warning.
    assert [(w["path"], w["severity"]) for w in report["warnings"]] == [
        ("cluster.members", "warning")]
    bad = client.post(f"{CONFIG}/validate", json={"scheduling": {"policy": 7},
                                                  "byzantin": {"f_value": 1}})
    assert bad.status_code == 200
    body = bad.json()
    assert body["valid"] is False
    assert body["errors"][0]["path"].startswith("byzantin")
    assert service.revision == 0


# -- history / rollback / sync -------------------------------------------------------
def test_history_newest_first_with_limit(client: TestClient) -> None:
    for policy in ("round_robin", "least_loaded", "custom"):
        client.patch(CONFIG, json=set_op("scheduling.policy", policy))
    entries = client.get(f"{CONFIG}/history", params={"limit": 2}).json()
    assert [e["revision"] for e in entries] == [3, 2]
    assert entries[0]["changes"][0]["new"] == "custom"
    for bad in ({"limit": 0}, {"limit": "x"}, {"scope": "everything"}):
        response = client.get(f"{CONFIG}/history", params=bad)
        assert response.status_code == 400, bad


def test_rollback_by_revision_and_hash_prefix(client: TestClient,
                                              service: FakeConfigService) -> None:
    first_hash = service.cluster_hash
    client.patch(CONFIG, json=set_op("scheduling.policy", "round_robin"))
    response = client.post(f"{CONFIG}/rollback/0")
    assert response.status_code == 200
    assert response.json()["revision"] == 2
    assert response.json()["cluster_hash"] == first_hash
    client.patch(CONFIG, json=set_op("scheduling.policy", "custom"))
    by_hash = client.post(f"{CONFIG}/rollback/{first_hash[:10]}")
    assert by_hash.status_code == 200
    assert client.get(CONFIG).json()["scheduling"]["policy"] == "predictive"
    assert client.get(f"{CONFIG}/history").json()[0]["action"] == "rollback"
    assert client.post(f"{CONFIG}/rollback/99").status_code == 400


def test_sync_calls_the_service(client: TestClient, service: FakeConfigService) -> None:
    response = client.post(f"{CONFIG}/sync")
    assert response.status_code == 200
    assert response.json()["revision"] == 0
    assert service.sync_calls == 1


# -- watch -----------------------------------------------------------------------------
def test_watch_times_out_with_unchanged_revision(client: TestClient) -> None:
    started = time.monotonic()
    response = client.get(f"{CONFIG}/watch", params={"after": 0, "timeout": 0.2})
    assert time.monotonic() - started >= 0.2
    assert response.status_code == 200
    assert response.json()["changed"] is False
    assert response.json()["revision"] == 0


def test_watch_returns_when_a_newer_revision_commits(client: TestClient,
                                                     service: FakeConfigService) -> None:
    def later() -> None:
        time.sleep(0.2)
        client.patch(CONFIG, json=set_op("scheduling.policy", "round_robin"))

    thread = threading.Thread(target=later)
    thread.start()
    started, asked = time.monotonic(), time.time()
    response = client.get(f"{CONFIG}/watch", params={"after": 0, "timeout": 10})
    thread.join()
    assert time.monotonic() - started < 5
    assert response.json() == {"revision": 1, "cluster_hash": service.cluster_hash,
                               "changed": True, "applied_at": service.applied_at}
    # when this node applied the revision: during the wait, not when the answer was sent
    assert asked + 0.15 < service.applied_at < time.time()
    # An old `after` returns at once.
    assert client.get(f"{CONFIG}/watch", params={"after": 0, "timeout": 10}
                      ).json()["changed"] is True
    assert client.get(f"{CONFIG}/watch", params={"after": "x"}).status_code == 400
    assert client.get(f"{CONFIG}/watch", params={"timeout": -1}).status_code == 400


# -- status, health, metrics -----------------------------------------------------------
def test_cluster_status(client: TestClient) -> None:
    body = client.get("/api/v1/cluster/status").json()
    assert {"view", "coordinator", "revision", "cluster_hash", "nodes"} <= set(body)
    assert body["nodes"][0]["state"] == "ready"


def test_health_and_readiness(client: TestClient, service: FakeConfigService) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    service.ready = (False, "catching up from peers")
    not_ready = client.get("/readyz")
    assert not_ready.status_code == 503
    assert not_ready.json() == {"ready": False, "reason": "catching up from peers"}


def test_metrics_are_prometheus_text_of_this_node_only(service: FakeConfigService) -> None:
    metrics_a, metrics_b = NodeMetrics(), NodeMetrics()
    metrics_a.set_revision(7)
    metrics_a.inc_update("committed")
    metrics_a.observe_phase("prepare", 0.02)
    metrics_a.set_view(2)
    metrics_a.set_reputation("node-b", 0.5)
    metrics_a.inc_rollback()
    metrics_a.inc_validation_failure()
    metrics_b.set_revision(3)
    text = TestClient(create_app(service, OPEN, metrics_a)).get("/metrics")
    assert text.status_code == 200
    assert text.headers["content-type"].startswith("text/plain")
    body = text.text
    for line in ("butterfly_config_revision 7.0",
                 'butterfly_config_updates_total{result="committed"} 1.0',
                 'butterfly_config_update_phase_seconds_count{phase="prepare"} 1.0',
                 "butterfly_config_view 2.0",
                 'butterfly_config_peer_reputation{peer="node-b"} 0.5',
                 "butterfly_config_rollbacks_total 1.0",
                 "butterfly_config_validation_failures_total 1.0"):
        assert line in body, line
    other = TestClient(create_app(service, OPEN, metrics_b)).get("/metrics").text
    assert "butterfly_config_revision 3.0" in other


def test_public_endpoints_need_no_credentials_and_show_no_values(
        service: FakeConfigService) -> None:
    client = TestClient(create_app(service, jwt_settings()))
    assert client.get(CONFIG).status_code == 401
    document = client.get(CONFIG, headers=bearer("reader")).json()
    # Enum choices ("info", "jwt"...) are words the OpenAPI text may use for other things.
    choices = {str(c) for info in registry.options().values() for c in info.choices}
    values = {str(v) for section in document.values() if isinstance(section, dict)
              for v in _leaf_values(section)
              if isinstance(v, str) and len(v) > 3 and v not in choices}
    assert "node-a" in values
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json"):
        response = client.get(path)
        assert response.status_code == 200, path
        text = response.text
        assert SECRET_MARKER not in text
        leaked = {v for v in values if f'"{v}"' in text or f"={v}" in text}
        assert not leaked, (path, leaked)


def _leaf_values(table: dict[str, object]) -> list[object]:
    out: list[object] = []
    for value in table.values():
        out.extend(_leaf_values(value) if isinstance(value, dict) else [value])
    return out


# -- OpenAPI ---------------------------------------------------------------------------
def test_openapi_lists_every_endpoint(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    methods = {(path, method.upper()) for path, ops in spec["paths"].items() for method in ops}
    expected = {
        (CONFIG, "GET"), (CONFIG, "POST"), (CONFIG, "PATCH"), (f"{CONFIG}/validate", "POST"),
        (f"{CONFIG}/history", "GET"), (f"{CONFIG}/rollback/{{version}}", "POST"),
        (f"{CONFIG}/sync", "POST"), (f"{CONFIG}/watch", "GET"), ("/api/v1/cluster/status", "GET"),
        ("/healthz", "GET"), ("/readyz", "GET"), ("/metrics", "GET"),
    }
    assert expected <= methods
    post = spec["paths"][CONFIG]["post"]
    assert set(post["requestBody"]["content"]) == {"application/toml", "application/json"}
    assert {"200", "400", "401", "403", "409", "413", "429", "503"} <= set(post["responses"])
    patch_schema = spec["paths"][CONFIG]["patch"]["requestBody"]["content"][
        "application/json"]["schema"]
    assert patch_schema["properties"]["operations"]["items"]["properties"]["op"]["enum"] == [
        "set", "delete", "merge"]
    orjson.dumps(spec)  # the document is plain JSON


def test_unexpected_service_error_is_a_generic_500(service: FakeConfigService,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    def broken(limit: int, scope: str) -> list[object]:
        raise RuntimeError(f"database exploded near {SECRET_MARKER}")

    service.history = broken  # type: ignore[method-assign]
    client = TestClient(create_app(service, OPEN), raise_server_exceptions=False)
    with caplog.at_level("ERROR", logger="butterfly_config.api"):
        response = client.get(f"{CONFIG}/history")
    assert response.status_code == 500
    assert SECRET_MARKER not in response.text
    assert "internal error" in response.json()["message"]
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert "RuntimeError" in logged
    assert SECRET_MARKER not in logged


def test_config_errors_raised_by_the_service_map_to_400_and_409(
        service: FakeConfigService) -> None:
    async def refuse_static(operations: object, *, identity: object, if_match: object) -> None:
        raise StaticChangeError("static options changed", [ConfigIssue(
            path="network.listen_addr", message="requires restart", rule="static")])

    async def refuse_invalid(document: object, *, identity: object, action: str,
                             if_match: object) -> None:
        raise ValidationFailed("configuration refused: 1 error", [
            ConfigIssue(path="byzantine.f_value", message="must be >= 1", rule="f"),
            ConfigIssue(path="cluster.members", message="standalone", severity="warning")])

    service.patch = refuse_static  # type: ignore[assignment]
    service.update_document = refuse_invalid  # type: ignore[assignment]
    client = TestClient(create_app(service, OPEN))
    static = client.patch(CONFIG, json=set_op("network.listen_addr", "0.0.0.0:1"))
    assert static.status_code == 409
    assert static.json()["restart_required"] == ["network.listen_addr"]
    invalid = client.post(CONFIG, json={"byzantine": {"f_value": 0}})
    assert invalid.status_code == 400
    assert [e["path"] for e in invalid.json()["errors"]] == ["byzantine.f_value"]


# -- If-Match --------------------------------------------------------------------------
@pytest.mark.parametrize(("header", "expected"), [
    (None, None), ("", None), ("*", None), (' "abc" ', frozenset({"abc"})),
    ("abc", frozenset({"abc"})), ('W/"abc"', frozenset()),
    ('"abc", W/"def", "ghi"', frozenset({"abc", "ghi"})),
])
def test_if_match_tags_compare_strongly(header: str | None,
                                        expected: frozenset[str] | None) -> None:
    assert if_match_tags(header) == expected


def test_if_match_refuses_a_change_to_a_configuration_that_moved_on(
        client: TestClient, service: FakeConfigService) -> None:
    etag = client.get(CONFIG).headers["ETag"]
    first = client.patch(CONFIG, json=set_op("scheduling.policy", "least_loaded"),
                         headers={"If-Match": etag})
    assert first.status_code == 200, first.text
    revision = service.revision
    # a second writer that read before the first change
    late = client.patch(CONFIG, json=set_op("scheduling.policy", "custom"),
                        headers={"If-Match": etag})
    assert late.status_code == 412
    assert "changed since it was read" in late.json()["message"]
    assert service.revision == revision
    document = client.get(CONFIG).json()
    stale_post = client.post(CONFIG, json=document, headers={"If-Match": etag})
    assert stale_post.status_code == 412
    assert client.post(f"{CONFIG}/rollback/0", headers={"If-Match": etag}).status_code == 412
    assert client.post(f"{CONFIG}/rollback/0",
                       headers={"If-Match": f'W/{etag}'}).status_code == 412  # weak: never
    fresh = client.get(CONFIG).headers["ETag"]
    assert client.post(f"{CONFIG}/rollback/0", headers={"If-Match": f'{etag}, {fresh}'}
                       ).status_code == 200
    assert client.patch(CONFIG, json=set_op("scheduling.policy", "custom"),
                        headers={"If-Match": "*"}).status_code == 200


def test_if_match_is_in_the_openapi_of_every_update(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path, method in ((CONFIG, "post"), (CONFIG, "patch"),
                         (f"{CONFIG}/rollback/{{version}}", "post")):
        operation = spec["paths"][path][method]
        assert any(p["name"] == "If-Match" and p["in"] == "header"
                   for p in operation["parameters"]), path
        assert "412" in operation["responses"]
