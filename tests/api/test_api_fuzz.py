"""Property: no request built from /openapi.json, however malformed, yields a 5xx.

A small schemathesis-style check with plain hypothesis: operations come from the
app's own OpenAPI document; bodies, path parameters, queries and headers are
drawn both from the declared shapes and from arbitrary bytes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest
from api_fakes import FakeConfigService
from api_helpers import OPEN, bearer, jwt_settings
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from butterfly_config.node.api import create_app
from toml_strategies import toml_documents


def _operations(app: Any) -> list[tuple[str, str]]:
    spec = TestClient(app).get("/openapi.json").json()
    return sorted((method.upper(), path) for path, ops in spec["paths"].items() for method in ops)


_APPS = {"open": create_app(FakeConfigService(), OPEN),
         "jwt": create_app(FakeConfigService(), jwt_settings(max_failed_auth_attempts=0))}
_CLIENTS = {name: TestClient(app) for name, app in _APPS.items()}
OPERATIONS = _operations(_APPS["open"])

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)
_paths = st.sampled_from(["scheduling.policy", "network.compression", "byzantine.f_value",
                          "observability.logging.level", "resources.rate_limits", "x.y", "",
                          "network", "a..b"])
_operations_body = st.fixed_dictionaries({"operations": st.lists(st.fixed_dictionaries(
    {"op": st.sampled_from(["set", "delete", "merge", "bogus"]), "path": _paths},
    optional={"value": _json_values}), max_size=4)})
_toml_documents = toml_documents(
    ["scheduling", "network", "byzantine", "nope"],
    ["policy", "f_value", "compression", "listen_addr"],
    st.integers() | st.text(max_size=8) | st.booleans(),
)


_bodies = st.one_of(
    st.binary(max_size=300),
    st.text(max_size=200).map(str.encode),
    _json_values.map(lambda v: httpx.Request("POST", "/", json=v).content),
    _operations_body.map(lambda v: httpx.Request("POST", "/", json=v).content),
    _toml_documents.map(str.encode),
)
_query = st.dictionaries(st.sampled_from(["limit", "scope", "after", "timeout", "x"]),
                         st.text(max_size=6) | st.integers(-5, 100).map(str), max_size=3)
_version = (st.text(min_size=1, max_size=12) | st.integers(-1, 5).map(str)).map(
    lambda t: quote(t, safe=""))
_auth = st.sampled_from([{}, {"Authorization": "Bearer x.y.z"}, {"Authorization": "Basic a"},
                         {"X-API-Key": "k"}, bearer("reader"), bearer("admin"), bearer()])


@pytest.mark.parametrize("app_name", sorted(_APPS))
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(operation=st.sampled_from(OPERATIONS), body=_bodies, query=_query, version=_version,
       content_type=st.sampled_from(["application/json", "application/toml", "text/plain", "",
                                     "multipart/form-data", "application/json; charset=x"]),
       accept=st.sampled_from(["", "application/toml", "*/*", "text/html;q=x"]), auth=_auth,
       if_none_match=st.sampled_from(["", "*", '"abc"', "W/", ",,"]))
def test_no_request_yields_a_server_error(
        app_name: str, operation: tuple[str, str], body: bytes, query: dict[str, str],
        version: str, content_type: str, accept: str, auth: dict[str, str],
        if_none_match: str) -> None:
    method, path = operation
    path = path.replace("{version}", version)
    if path.endswith("/watch"):
        query = {**query, "timeout": "0.001"}
    headers = {k: v for k, v in (("Content-Type", content_type), ("Accept", accept),
                                 ("If-None-Match", if_none_match)) if v}
    response = _CLIENTS[app_name].request(method, path, params=query, content=body,
                                          headers={**headers, **auth})
    assert response.status_code < 500 or (
        response.status_code == 503 and path == "/readyz"), (method, path, response.text)
    assert response.status_code != 422
