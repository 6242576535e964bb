"""Lifting a member's isolation: the endpoint, its permission and audit, and the CLI."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pytest
from api_fakes import INITIAL_SCORE, FakeConfigService
from api_helpers import Clock, bearer, jwt_settings, live_server, token
from fastapi.testclient import TestClient

from butterfly_config.cli.main import main
from butterfly_config.node.api import create_app
from butterfly_config.node.api.server import ThreadedServer
from butterfly_config.node.ports import free_port


def reset_path(member: str) -> str:
    return f"/api/v1/cluster/members/{member}/reputation/reset"


def isolated_peer(service: FakeConfigService, member: str, api_addr: str) -> None:
    """Make `service` list `member` as a peer it holds isolated (score 0)."""
    service.peers.append({"node_id": member, "addr": "127.0.0.1:7899", "api_addr": api_addr,
                          "state": "isolated", "revision": 0, "phi": 0.1})
    service.reputation[member] = 0.0


@pytest.fixture
def service() -> FakeConfigService:
    fake = FakeConfigService()
    isolated_peer(fake, "node-x", "127.0.0.1:1")
    return fake


@pytest.fixture
def client(service: FakeConfigService) -> TestClient:
    return TestClient(create_app(service, jwt_settings(Clock())))


def test_reset_answers_the_new_standing_and_audits_the_caller(
        client: TestClient, service: FakeConfigService) -> None:
    response = client.post(reset_path("node-x"), headers=bearer("admin", subject="erin"))
    assert response.status_code == 200, response.text
    assert response.json() == {"node_id": "node-a", "member": "node-x",
                               "reputation": INITIAL_SCORE, "state": "trusted",
                               "previous_reputation": 0.0, "previous_state": "isolated"}
    assert service.reputation["node-x"] == INITIAL_SCORE
    assert service.audit_log[-1][:3] == ("erin", "reputation-reset", "reset")
    assert service.audit_log[-1][3]["member"] == "node-x"


def test_unknown_member_is_404_with_the_error_body(client: TestClient,
                                                   service: FakeConfigService) -> None:
    response = client.post(reset_path("node-q"), headers=bearer("admin"))
    assert response.status_code == 404
    body = response.json()
    assert body["success"] is False and "not a member" in body["message"]
    assert body["errors"][0]["path"] == "node_id"
    assert set(body["errors"][0]) >= {"path", "message", "hint", "rule"}
    assert service.reputation["node-x"] == 0.0


@pytest.mark.parametrize(("roles", "status"), [((), 403), (("reader",), 403),
                                               (("operator",), 403)])
def test_reset_needs_cluster_admin(client: TestClient, service: FakeConfigService,
                                   roles: tuple[str, ...], status: int) -> None:
    response = client.post(reset_path("node-x"), headers=bearer(*roles))
    assert response.status_code == status
    assert "cluster:admin" in response.json()["message"]
    assert client.post(reset_path("node-x")).status_code == 401
    assert service.reputation["node-x"] == 0.0


def test_openapi_lists_the_reset(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    operation = spec["paths"][reset_path("{node_id}")]["post"]
    assert {"200", "401", "403", "404"} <= set(operation["responses"])


# -- the CLI --------------------------------------------------------------------------
@pytest.fixture
def cluster() -> Iterator[tuple[list[FakeConfigService], list[ThreadedServer]]]:
    """Three nodes with JWT auth, each holding node-x isolated; node-a lists the others."""
    services = [FakeConfigService(node_id) for node_id in ("node-a", "node-b", "node-x")]
    settings = jwt_settings(Clock())
    with live_server(services[0], settings) as a, live_server(services[1], settings) as b, \
            live_server(services[2], settings) as x:
        servers = [a, b, x]
        for fake in services:
            fake.reputation["node-x"] = 0.0
        for peer, server in zip(services[1:], servers[1:], strict=True):
            services[0].peers.append({"node_id": peer.node_id, "addr": "127.0.0.1:7899",
                                      "api_addr": server.url.removeprefix("http://"),
                                      "state": "ready"})
        yield services, servers


def reset(server: ThreadedServer, *argv: str, role: str = "admin") -> int:
    return main(["cluster", "reset-reputation", *argv, "--url", server.url,
                 "--token", token(role)])


def test_cli_resets_one_node_or_all(cluster: tuple[list[FakeConfigService], list[ThreadedServer]],
                                    capsys: pytest.CaptureFixture[str]) -> None:
    services, servers = cluster
    assert reset(servers[1], "node-x") == 0
    assert capsys.readouterr().out == (
        "node-b: node-x reputation 0.00 (isolated) -> 100.00 (trusted)\n")
    assert [s.reputation["node-x"] for s in services] == [0.0, INITIAL_SCORE, 0.0]
    assert reset(servers[0], "node-x", "--all") == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["node-a", "node-b", "node-x"]
    assert lines[1].endswith("100.00 (trusted) -> 100.00 (trusted)")
    assert all(s.reputation["node-x"] == INITIAL_SCORE for s in services)
    assert reset(servers[0], "node-x", "--all", "--format", "json") == 0
    outcomes = orjson.loads(capsys.readouterr().out)
    assert [(o["node_id"], o["success"], o["state"]) for o in outcomes] == [
        ("node-a", True, "trusted"), ("node-b", True, "trusted"), ("node-x", True, "trusted")]


def test_cli_exit_codes(cluster: tuple[list[FakeConfigService], list[ThreadedServer]],
                        capsys: pytest.CaptureFixture[str]) -> None:
    services, servers = cluster
    assert reset(servers[0], "node-q") == 1
    err = capsys.readouterr().err
    assert "HTTP 404" in err and "cluster status" in err and "Traceback" not in err
    assert reset(servers[0], "node-x", role="operator") == 2
    assert "lacks permission" in capsys.readouterr().err
    # one member unreachable: the others are still reset, the exit code says connection
    reachable = services[0].peers[0]["api_addr"]
    services[0].peers[0]["api_addr"] = f"127.0.0.1:{free_port()}"
    assert reset(servers[0], "node-x", "--all") == 2
    captured = capsys.readouterr()
    assert [line.split(":")[0] for line in captured.out.splitlines()] == ["node-a", "node-x"]
    assert captured.err.startswith("node-b: cannot reach the node at")
    assert [s.reputation["node-x"] for s in services] == [INITIAL_SCORE, 0.0, INITIAL_SCORE]
    # a member no node knows: refused everywhere, exit 1
    services[0].peers[0]["api_addr"] = reachable
    assert reset(servers[0], "node-q", "--all") == 1
    err = capsys.readouterr().err
    assert err.count("HTTP 404") == 3 and "config history" not in err
