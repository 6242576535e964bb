"""The CLI's remote commands through `butterfly_config.cli.main.main` against a live server."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from api_fakes import FakeConfigService
from api_helpers import Clock, jwt_settings, live_server, token

from butterfly_config.cli.main import main
from butterfly_config.cli.remote import flatten_leaves, parse_value
from butterfly_config.node.api.server import ThreadedServer
from butterfly_config.node.ports import free_port

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "watch_client.py"


@pytest.fixture
def service() -> FakeConfigService:
    return FakeConfigService()


@pytest.fixture
def server(service: FakeConfigService) -> Iterator[ThreadedServer]:
    with live_server(service) as running:
        yield running


def run(server: ThreadedServer, *argv: str) -> int:
    return main([*argv, "--url", server.url])


def test_parse_value_reads_toml_scalars_else_text() -> None:
    assert parse_value("4") == 4
    assert parse_value("true") is True
    assert parse_value("[0, 1]") == [0, 1]
    assert parse_value('"quoted"') == "quoted"
    assert parse_value("round_robin") == "round_robin"
    assert parse_value("0.5") == 0.5
    assert parse_value("") == ""


def test_flatten_leaves_keeps_free_form_tables_whole() -> None:
    document = {"include": {"files": ["x.toml"]}, "scheduling": {"policy": "custom"},
                "observability": {"logging": {"filters": {"consensus": "debug"}}}}
    assert flatten_leaves(document) == {"scheduling.policy": "custom",
                                        "observability.logging.filters": {"consensus": "debug"}}


def test_update_key_value(server: ThreadedServer, service: FakeConfigService,
                          capsys: pytest.CaptureFixture[str]) -> None:
    assert run(server, "config", "update", "--key", "scheduling.policy",
               "--value", "round_robin") == 0
    out = capsys.readouterr().out
    assert "committed revision 1" in out
    assert service.cluster_hash in out
    assert run(server, "config", "update", "--key", "network.compression.level", "--value", "5",
               "--format", "json") == 0
    body = orjson.loads(capsys.readouterr().out)
    assert body["revision"] == 2
    assert service.current_document()["network"]["compression"]["level"] == 5


def test_update_local_option_says_so(server: ThreadedServer,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    assert run(server, "config", "update", "--key", "observability.logging.level",
               "--value", "debug") == 0
    assert "this node only" in capsys.readouterr().out


def test_update_from_file_sets_only_its_options(server: ThreadedServer,
                                                service: FakeConfigService, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    change = tmp_path / "change.toml"
    change.write_text('[scheduling]\npolicy = "least_loaded"\n[partition]\n'
                      'strategy = "load_balanced"\n')
    assert run(server, "config", "update", "--file", str(change)) == 0
    assert "scheduling.policy" in capsys.readouterr().out
    document = service.current_document()
    assert document["scheduling"]["policy"] == "least_loaded"
    assert document["partition"]["strategy"] == "load_balanced"
    assert service.revision == 1


def test_update_refusals_exit_1(server: ThreadedServer, tmp_path: Path,
                                capsys: pytest.CaptureFixture[str]) -> None:
    assert run(server, "config", "update", "--key", "byzantine.f_value", "--value", "2") == 1
    err = capsys.readouterr().err
    assert "byzantine.f_value" in err
    assert "requires restart" in err
    assert run(server, "config", "update", "--key", "scheduling.policy", "--value", "x") == 1
    assert "scheduling.policy" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[scheduling\npolicy = 1\n")
    assert run(server, "config", "update", "--file", str(bad)) == 1
    assert "bad.toml" in capsys.readouterr().err


def test_update_usage_and_io_errors_exit_2(server: ThreadedServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    assert run(server, "config", "update", "--key", "scheduling.policy") == 2
    assert "--value" in capsys.readouterr().err
    assert run(server, "config", "update", "--file", str(tmp_path / "missing.toml")) == 2
    assert "missing.toml" in capsys.readouterr().err
    empty = tmp_path / "empty.toml"
    empty.write_text("# nothing\n")
    assert run(server, "config", "update", "--file", str(empty)) == 2


def test_history_table_and_json(server: ThreadedServer, capsys: pytest.CaptureFixture[str]
                                ) -> None:
    for policy in ("round_robin", "least_loaded"):
        assert run(server, "config", "update", "--key", "scheduling.policy",
                   "--value", policy) == 0
    capsys.readouterr()
    assert run(server, "config", "history", "--limit", "5") == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["REVISION", "TIME", "(UTC)", "ACTION", "INITIATOR", "CHANGED",
                                "HASH"]
    assert lines[1].split()[0] == "2"
    assert "scheduling.policy" in lines[1]
    assert len(lines) == 4
    assert run(server, "config", "history", "--format", "json", "--limit", "1") == 0
    assert [e["revision"] for e in orjson.loads(capsys.readouterr().out)] == [2]
    assert run(server, "config", "history", "--local") == 0
    assert "no local changes" in capsys.readouterr().out


def test_rollback_and_sync(server: ThreadedServer, service: FakeConfigService,
                           capsys: pytest.CaptureFixture[str]) -> None:
    first = service.cluster_hash
    run(server, "config", "update", "--key", "scheduling.policy", "--value", "custom")
    assert run(server, "config", "rollback", "--version", first[:12]) == 0
    assert f"cluster_hash {first}" in capsys.readouterr().out
    assert service.revision == 2
    assert run(server, "config", "rollback", "--version", "404") == 1
    assert run(server, "config", "sync") == 0
    assert "revision: 2" in capsys.readouterr().out
    assert service.sync_calls == 1


def test_rollback_by_a_shared_config_version_says_which_revision_it_took(
        server: ThreadedServer, service: FakeConfigService,
        capsys: pytest.CaptureFixture[str]) -> None:
    run(server, "config", "update", "--key", "scheduling.policy", "--value", "custom")
    capsys.readouterr()
    assert run(server, "config", "rollback", "--version", "1.0.0") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("note: config_version '1.0.0' is carried by 2 revisions")
    assert out[0].endswith("it names the newest, revision 1")
    assert out[1].startswith("rolled back to 1.0.0 (revision 1): committed revision 2 ")


def test_export_writes_the_toml_atomically(server: ThreadedServer, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "current.toml"
    target.write_text("old")
    assert run(server, "config", "export", "--output", str(target)) == 0
    assert tomllib.loads(target.read_text())["node"]["node_id"] == "node-a"
    assert "revision 0" in capsys.readouterr().out
    assert [p.name for p in tmp_path.iterdir()] == ["current.toml"]
    assert run(server, "config", "export", "--output", str(tmp_path / "no" / "x.toml")) == 2


def test_cluster_status_table(server: ThreadedServer, capsys: pytest.CaptureFixture[str]
                              ) -> None:
    assert run(server, "cluster", "status") == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("view 0  coordinator node-a  revision 0")
    assert out[1].split()[:3] == ["NODE", "ADDR", "STATE"]
    assert out[2].split()[:4] == ["node-a", "127.0.0.1:7890", "ready", "0"]
    assert run(server, "cluster", "status", "--format", "json") == 0
    assert orjson.loads(capsys.readouterr().out)["nodes"][0]["state"] == "ready"


@pytest.mark.parametrize("argv", [
    ["config", "export", "--output", "x.toml"], ["config", "history"], ["config", "sync"],
    ["config", "rollback", "--version", "1"], ["cluster", "status"],
    ["config", "update", "--key", "a.b", "--value", "1"],
])
def test_connection_refused_exits_2(argv: list[str], tmp_path: Path,
                                    capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    url = f"http://127.0.0.1:{free_port()}"
    monkeypatch.setenv("BUTTERFLY_API_URL", url)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert url in err
    assert "BUTTERFLY_API_URL" in err
    assert "Traceback" not in err


def test_token_from_environment(service: FakeConfigService, monkeypatch: pytest.MonkeyPatch,
                                capsys: pytest.CaptureFixture[str]) -> None:
    with live_server(service, jwt_settings(Clock())) as server:
        assert run(server, "config", "history") == 2
        assert "token" in capsys.readouterr().err
        monkeypatch.setenv("BUTTERFLY_API_TOKEN", token("reader"))
        assert run(server, "config", "history") == 0
        assert run(server, "config", "sync") == 2
        assert "lacks permission" in capsys.readouterr().err
        assert run(server, "config", "sync", "--token", token("admin")) == 0


def test_watch_client_example(server: ThreadedServer) -> None:
    process = subprocess.Popen(
        [sys.executable, str(EXAMPLE), "--url", server.url, "--count", "2", "--timeout", "30",
         "--poll", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = process.stdout.readline() if process.stdout else ""
        assert first.startswith(f"watching {server.url}: revision 0")
        assert main(["config", "update", "--key", "scheduling.policy", "--value", "custom",
                     "--url", server.url]) == 0
        assert main(["config", "update", "--key", "partition.strategy",
                     "--value", "load_balanced", "--url", server.url]) == 0
        out, err = process.communicate(timeout=30)
    finally:
        process.kill()
    assert process.returncode == 0, err
    lines = out.splitlines()
    assert lines[0].startswith("revision 1 ")
    assert "changed=scheduling.policy" in lines[0]
    assert lines[1].startswith("revision 2 ")
    assert "changed=partition.strategy" in lines[1]


def test_watch_client_example_times_out_and_reports_connection_errors() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    done = subprocess.run([sys.executable, str(EXAMPLE), "--url", url, "--count", "1"],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 2
    assert url in done.stderr
