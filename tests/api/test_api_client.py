"""ButterflyClient against a real uvicorn server on 127.0.0.1 serving the in-memory service."""

from __future__ import annotations

import threading
import time
import tomllib
from collections.abc import Iterator

import pytest
from api_fakes import FakeConfigService
from api_helpers import Clock, jwt_settings, live_server, token

from butterfly_config.client import (
    ButterflyClient,
    RemoteAccessDenied,
    RemoteRefused,
)
from butterfly_config.errors import ConnectionFailed, UsageError
from butterfly_config.node.api.server import ThreadedServer
from butterfly_config.node.ports import free_port
from canned_http import canned_server


@pytest.fixture
def service() -> FakeConfigService:
    return FakeConfigService()


@pytest.fixture
def server(service: FakeConfigService) -> Iterator[ThreadedServer]:
    with live_server(service) as running:
        yield running


@pytest.fixture
def client(server: ThreadedServer) -> Iterator[ButterflyClient]:
    with ButterflyClient(server.url, timeout=10) as c:
        yield c


def test_get_json_and_toml(client: ButterflyClient, service: FakeConfigService) -> None:
    document, revision, etag = client.get()
    assert isinstance(document, dict)
    assert document["node"]["node_id"] == "node-a"
    assert revision == 0
    assert etag == f'"{service.cluster_hash}"'
    text, _, _ = client.get(format="toml")
    assert isinstance(text, str)
    assert tomllib.loads(text)["scheduling"]["policy"] == "predictive"


def test_changes_roundtrip(client: ButterflyClient, service: FakeConfigService) -> None:
    result = client.set("scheduling.policy", "least_loaded")
    assert result["revision"] == 1
    assert result["cluster_hash"] == service.cluster_hash
    patched = client.patch([{"op": "set", "path": "partition.strategy", "value": "load_balanced"}])
    assert patched["revision"] == 2
    document, _, _ = client.get()
    assert isinstance(document, dict)
    document["scheduling"]["policy"] = "custom"
    assert client.update(document)["revision"] == 3
    toml_text, _, _ = client.get(format="toml")
    assert isinstance(toml_text, str)
    assert client.update(toml_text.replace('"custom"', '"round_robin"', 1))["revision"] == 4
    history = client.history(limit=10)
    assert [h["revision"] for h in history] == [4, 3, 2, 1, 0]
    rolled = client.rollback(1)
    assert rolled["revision"] == 5
    assert client.get()[0]["scheduling"]["policy"] == "least_loaded"  # type: ignore[index]
    assert client.sync()["revision"] == 5
    assert client.status()["nodes"][0]["node_id"] == "node-a"
    assert client.validate({"scheduling": {"policy": "nope"}})["valid"] is False
    assert client.validate('[scheduling]\npolicy = "custom"\n')["valid"] is True
    local = client.set("observability.logging.level", "debug")
    assert local["scope"] == "local"
    assert client.history(scope="local")[0]["changes"][0]["new"] == "debug"


def test_health(client: ButterflyClient, service: FakeConfigService) -> None:
    assert client.health() == {"live": True, "ready": True, "reason": ""}
    service.ready = (False, "revision-0 differs from the quorum's: byzantine.f_value")
    health = client.health()
    assert health["ready"] is False
    assert "byzantine.f_value" in health["reason"]


def test_watch_wakes_on_commit(client: ButterflyClient, server: ThreadedServer) -> None:
    unchanged = client.watch(after=0, timeout=0.1)
    assert unchanged == {"revision": 0, "cluster_hash": client.get()[2].strip('"'),
                         "changed": False, "applied_at": unchanged["applied_at"]}
    assert isinstance(unchanged["applied_at"], float)

    def commit_later() -> None:
        time.sleep(0.2)
        with ButterflyClient(server.url) as other:
            other.set("scheduling.policy", "round_robin")

    thread = threading.Thread(target=commit_later)
    thread.start()
    started = time.monotonic()
    result = client.watch(after=0, timeout=20)
    thread.join()
    assert result["changed"] is True
    assert result["revision"] == 1
    assert time.monotonic() - started < 10


def test_refusals_carry_status_issues_and_exit_1(client: ButterflyClient,
                                                 service: FakeConfigService) -> None:
    with pytest.raises(RemoteRefused) as invalid:
        client.set("scheduling.policy", "fastest")
    assert invalid.value.status == 400
    assert invalid.value.exit_code == 1
    assert invalid.value.errors[0].path == "scheduling.policy"
    assert "scheduling.policy" in invalid.value.render()

    with pytest.raises(RemoteRefused) as static:
        client.set("node.data_dir", "/elsewhere")
    assert static.value.status == 409
    assert static.value.restart_required == ["node.data_dir"]
    assert "requires restart" in static.value.render()

    service.quorum_lost = True
    with pytest.raises(RemoteRefused) as no_quorum:
        client.set("scheduling.policy", "custom")
    assert no_quorum.value.status == 503
    assert "quorum" in no_quorum.value.render()

    with pytest.raises(RemoteRefused) as unknown:
        client.rollback("no-such-version")
    assert unknown.value.status == 400
    assert "no revision matches" in unknown.value.render()


def test_a_server_that_is_no_node_api_is_a_connection_problem() -> None:
    """A peer port (or any other server) answers 404 without a refusal of ours."""
    with canned_server(404, "text/plain", b"Not Found") as url, \
            ButterflyClient(url, timeout=5) as client, pytest.raises(ConnectionFailed) as info:
        client.status()
    assert info.value.exit_code == 2
    rendered = info.value.render()
    assert "has no /api/v1/cluster/status: it is not a node's API" in rendered
    assert "network.api_addr" in rendered


@pytest.mark.parametrize("url", ["127.0.0.1:8080", "htp://x", "http://[::1", "http://", ""])
def test_a_url_that_is_not_http_is_a_usage_error(url: str) -> None:
    with pytest.raises(UsageError) as info:
        ButterflyClient(url)
    assert info.value.exit_code == 2
    assert "network.api_addr" in info.value.render()


def test_a_token_is_trimmed_and_refused_with_a_control_character(
        service: FakeConfigService) -> None:
    settings = jwt_settings(Clock())
    with live_server(service, settings) as server:
        with ButterflyClient(server.url, token=token("reader") + "\n") as trailing_newline:
            assert trailing_newline.get()[1] == 0
        for bad in ("abc\ndef", "abc def", "abc\x00", "t\u00f6ken"):
            with pytest.raises(UsageError) as info:
                ButterflyClient(server.url, token=bad)
            assert "(at character" in info.value.render()
            assert bad not in info.value.render()


def test_credential_problems_exit_2_with_a_token_hint(service: FakeConfigService) -> None:
    settings = jwt_settings(Clock())
    with live_server(service, settings) as server:
        with ButterflyClient(server.url) as anonymous, pytest.raises(RemoteAccessDenied) as info:
            anonymous.get()
        assert info.value.status == 401
        assert info.value.exit_code == 2
        assert "token" in info.value.render()
        with ButterflyClient(server.url, token=token("reader")) as reader:
            assert reader.get()[1] == 0
            with pytest.raises(RemoteAccessDenied) as forbidden:
                reader.sync()
            assert forbidden.value.status == 403
        with ButterflyClient(server.url, token="garbage") as bad:
            for _ in range(3):
                with pytest.raises(RemoteAccessDenied):
                    bad.get()
            with pytest.raises(RemoteAccessDenied) as locked:
                bad.get()
            assert locked.value.status == 429
            assert "retry in" in locked.value.render()


def test_connection_refused_names_the_url() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with ButterflyClient(url, timeout=5) as client, pytest.raises(ConnectionFailed) as info:
        client.get()
    assert info.value.exit_code == 2
    rendered = info.value.render()
    assert url in rendered
    assert "is the node running? check --url / BUTTERFLY_API_URL" in rendered


def test_slow_node_is_a_timeout(service: FakeConfigService, server: ThreadedServer) -> None:
    with ButterflyClient(server.url, timeout=0.2) as client:
        # The long-poll waits 1s on the server; the client allows timeout + 0.2s.
        assert client.watch(after=0, timeout=0.5)["changed"] is False

    async def stuck(after: int, timeout: float) -> int:
        import asyncio

        await asyncio.sleep(1)
        return after

    service.wait_for_revision = stuck  # type: ignore[method-assign]
    with ButterflyClient(server.url, timeout=0.2) as client, \
            pytest.raises(ConnectionFailed) as info:
        client.watch(after=0, timeout=0.1)
    assert "did not answer" in info.value.message


def test_abandoned_watch_is_released(service: FakeConfigService,
                                     server: ThreadedServer) -> None:
    with ButterflyClient(server.url, timeout=0.3) as client, pytest.raises(ConnectionFailed):
        client._request("GET", "/api/v1/config/watch", params={"after": 0, "timeout": 60})
    assert service.active_waits == 1
    deadline = time.monotonic() + 5
    while service.active_waits and time.monotonic() < deadline:
        time.sleep(0.05)
    assert service.active_waits == 0


def test_infinity_is_refused_before_anything_is_sent(client: ButterflyClient,
                                                     service: FakeConfigService) -> None:
    # the JSON encoder would send it as null, which unsets an optional option
    for value in (float("inf"), float("nan"), {"m": {"n": [1.0, float("-inf")]}}):
        with pytest.raises(UsageError) as caught:
            client.set("network.external_addr", value)
        assert "inf and nan cannot be sent to a node" in caught.value.render()
    assert service.revision == 0


def test_if_match_makes_read_modify_write_safe(client: ButterflyClient) -> None:
    document, _, etag = client.get()
    assert isinstance(document, dict)
    client.patch([{"op": "set", "path": "scheduling.policy", "value": "least_loaded"}],
                 if_match=etag)
    document["scheduling"]["policy"] = "custom"  # made from the first read
    with pytest.raises(RemoteRefused) as late:
        client.update(document, if_match=etag)
    assert late.value.status == 412 and late.value.exit_code == 1
    assert "read the configuration again" in late.value.render()
    with pytest.raises(RemoteRefused):
        client.rollback(0, if_match=etag)
    _, _, fresh = client.get()
    assert client.update(document, if_match=fresh)["revision"] == 2
