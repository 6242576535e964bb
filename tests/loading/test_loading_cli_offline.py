"""`butterfly config validate | show | explain | diff` through the real entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from butterfly_config.cli.main import main
from canned_http import canned_server

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(os.environ):
        if name.startswith("BUTTERFLY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def write(name: str, text: str) -> str:
    Path(name).write_text(text, encoding="utf-8")
    return name


DEV_FILE = "[metadata]\nenvironment = 'development'\n[security.tls]\nenabled = false\n"


# -- validate --------------------------------------------------------------------------
def test_validate_valid_file_exits_0_with_summary(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE)
    code, out, _ = run(capsys, "config", "validate", "--config", "ok.toml")
    assert code == 0
    assert out.splitlines()[-1].startswith("ok.toml: valid (")


def test_validate_invalid_file_lists_every_error(capsys: pytest.CaptureFixture[str]) -> None:
    write("bad.toml", DEV_FILE + "[network]\nprotocol = 'udp'\n[byzantine]\nf_value = 0\n")
    code, out, _ = run(capsys, "config", "validate", "--config", "bad.toml")
    assert code == 1
    assert "bad.toml:6: error: network.protocol:" in out
    assert "bad.toml:8: error: byzantine.f_value:" in out
    assert "  hint: " in out
    assert out.splitlines()[-1].startswith("bad.toml: invalid: 2 errors")


def test_validate_json(capsys: pytest.CaptureFixture[str]) -> None:
    write("bad.toml", DEV_FILE + "[network]\nprotocol = 'udp'\nbogus = 1\n")
    code, out, _ = run(capsys, "config", "validate", "--config", "bad.toml", "--format", "json")
    report = json.loads(out)
    assert code == 1 and report["valid"] is False
    [error] = report["errors"]
    assert error["path"] == "network.protocol" and error["rule"] == "type"
    assert error["file"] == "bad.toml" and error["line"] == 6
    assert any(w["path"] == "network.bogus" for w in report["warnings"])


def test_validate_strict_and_set_and_env_file(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE + "[network]\nbogus = 1\n")
    write("node.env", "BUTTERFLY_BYZANTINE_F_VALUE=0\n")
    assert run(capsys, "config", "validate", "--config", "ok.toml")[0] == 0
    assert run(capsys, "config", "validate", "--config", "ok.toml", "--strict")[0] == 1
    code, out, _ = run(capsys, "config", "validate", "--config", "ok.toml",
                       "--env-file", "node.env")
    assert code == 1 and "node.env:1: error: byzantine.f_value" in out
    code, out, _ = run(capsys, "config", "validate", "--config", "ok.toml",
                       "--set", "network.protocol=udp")
    assert code == 1 and "(set by cli --set)" in out


def test_validate_malformed_toml(capsys: pytest.CaptureFixture[str]) -> None:
    write("broken.toml", "[network\n")
    code, out, _ = run(capsys, "config", "validate", "--config", "broken.toml")
    assert code == 1
    assert out.startswith("broken.toml:1:9: error: invalid TOML:")


def test_validate_missing_file_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "validate", "--config", "missing.toml")
    assert code == 2 and "missing.toml: no such file" in err


@pytest.mark.parametrize(("argv", "hint"), [
    (["config", "validate", "--config", "missing.toml"],
     "check the path given with --config or BUTTERFLY_CONFIG"),
    (["config", "show", "--config", "ok.toml", "--env-file", "nope.env"],
     "check the path given with --env-file"),
    (["config", "validate", "--config", "ok.toml", "--env-file", "nope.env"],
     "check the path given with --env-file"),
    (["config", "explain", "node.node_id", "--config", "ok.toml", "--env-file", "nope.env"],
     "check the path given with --env-file"),
    (["config", "diff", "ok.toml", "missing.toml"],
     "check the path given to `config diff` (A.toml B.toml)"),
])
def test_a_missing_file_hint_names_the_option_that_gave_it(
        capsys: pytest.CaptureFixture[str], argv: list[str], hint: str) -> None:
    write("ok.toml", DEV_FILE)
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.splitlines()[1] == f"  hint: {hint}", err


@pytest.mark.parametrize("option", ["--config", "--env-file"])
def test_a_directory_given_as_a_file_is_exit_2_with_a_hint(
        capsys: pytest.CaptureFixture[str], tmp_path: Path, option: str) -> None:
    write("ok.toml", DEV_FILE)
    argv = ["config", "validate", "--config", "ok.toml", option, str(tmp_path)]
    code, _, err = run(capsys, *argv)
    assert code == 2
    assert err.splitlines()[0] == f"{tmp_path}: is a directory, not a file", err
    assert err.splitlines()[1] == (
        "  hint: name the file itself, not the directory that holds it"), err


def test_validate_without_config_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "validate")
    assert code == 2 and "BUTTERFLY_CONFIG" in err


def test_validate_reads_butterfly_config(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write("ok.toml", DEV_FILE)
    monkeypatch.setenv("BUTTERFLY_CONFIG", "ok.toml")
    assert run(capsys, "config", "validate")[0] == 0


def test_validate_include_cycle_is_exit_1(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.toml", "[include]\nfiles = ['b.toml']\n")
    write("b.toml", "[include]\nfiles = ['a.toml']\n")
    code, out, _ = run(capsys, "config", "validate", "--config", "a.toml")
    assert code == 1 and "include cycle: a.toml -> b.toml -> a.toml" in out


def test_reference_validates_in_development(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, reference_dir: Path
) -> None:
    monkeypatch.setenv("BUTTERFLY_METADATA_ENVIRONMENT", "development")
    code, out, _ = run(capsys, "config", "validate", "--config",
                       str(reference_dir / "config_schema.toml"))
    assert code == 0 and "warning: security.tls.cert_file" in out


# -- show ------------------------------------------------------------------------------
def test_show_toml_is_the_effective_config(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE)
    code, out, _ = run(capsys, "config", "show", "--config", "ok.toml",
                       "--set", "network.protocol=tcp")
    shown = tomllib.loads(out)
    assert code == 0
    assert shown["network"]["protocol"] == "tcp"
    assert shown["security"]["tls"]["enabled"] is False
    assert "include" not in shown


def test_show_sources_annotates_values(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE)
    code, out, _ = run(capsys, "config", "show", "--config", "ok.toml", "--sources",
                       "--set", "observability.logging.level=debug")
    assert code == 0
    assert 'environment = "development"  # file ok.toml:2' in out
    assert 'level = "debug"  # cli --set' in out
    assert 'protocol = "quic"  # default' in out
    tomllib.loads(out)


def test_show_json_with_sources(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE)
    code, out, _ = run(capsys, "config", "show", "--config", "ok.toml", "--format", "json",
                       "--sources")
    data = json.loads(out)
    assert code == 0
    assert data["config"]["security"]["tls"]["enabled"] is False
    assert data["sources"]["security.tls.enabled"] == "file ok.toml:4"


def test_show_hash(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE)
    write("same.toml", "[security.tls]\nenabled = false # layout differs\n"
          "[metadata]\nenvironment = \"development\"\n")
    code, out, _ = run(capsys, "config", "show", "--config", "ok.toml", "--hash")
    lines = out.splitlines()
    assert code == 0
    assert lines[0].startswith("cluster_hash: ") and lines[1].startswith("full_hash: ")
    assert len(lines[0].split()[1]) == 64
    assert run(capsys, "config", "show", "--config", "same.toml", "--hash")[1] == out


def test_show_hash_json_is_one_object(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE)
    code, text, _ = run(capsys, "config", "show", "--config", "ok.toml", "--hash")
    assert code == 0
    code, out, _ = run(capsys, "config", "show", "--config", "ok.toml", "--hash",
                       "--format", "json")
    assert code == 0
    assert json.loads(out) == dict(line.split(": ") for line in text.splitlines())


def test_show_hash_cluster_connection_error_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "config", "show", "--hash", "--cluster",
                       "--url", "http://127.0.0.1:9")
    assert code == 2 and "127.0.0.1:9" in err


# -- explain ---------------------------------------------------------------------------
def test_explain_shows_everything(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE + "[byzantine]\nf_value = 1\n")
    code, out, _ = run(capsys, "config", "explain", "byzantine.f_value", "--config", "ok.toml")
    assert code == 0
    assert out.splitlines()[0] == "byzantine.f_value"
    for fragment in ("type ", "default ", "value ", "source       file ok.toml:6",
                     "scope        cluster",
                     "mutability   static", "category     static-critical",
                     "env          BUTTERFLY_BYZANTINE_F_VALUE", "requires restart"):
        assert fragment in out, fragment


def test_explain_env_and_include_sources(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    write("inc.toml", "[scheduling]\npolicy = 'least_loaded'\n")
    write("ok.toml", DEV_FILE + "[include]\nfiles = ['inc.toml']\n")
    _, out, _ = run(capsys, "config", "explain", "scheduling.policy", "--config", "ok.toml")
    assert "include inc.toml:2 (via ok.toml -> inc.toml)" in out
    assert "dynamic-consensus" in out and "through consensus" in out
    monkeypatch.setenv("BUTTERFLY_SCHEDULING_POLICY", "predictive")
    _, out, _ = run(capsys, "config", "explain", "scheduling.policy", "--config", "ok.toml")
    assert "env BUTTERFLY_SCHEDULING_POLICY" in out and '"predictive"' in out


def test_explain_unknown_key_is_a_usage_error_with_suggestion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = run(capsys, "config", "explain", "byzantine.f_valeu")
    assert code == 2
    assert "unknown option 'byzantine.f_valeu'" in err
    assert "did you mean byzantine.f_value?" in err


def test_explain_unset_optional(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "config", "explain", "network.external_addr")
    assert code == 0 and "(unset)" in out


# -- diff ------------------------------------------------------------------------------
def test_diff_same_and_different(capsys: pytest.CaptureFixture[str]) -> None:
    write("a.toml", DEV_FILE)
    write("b.toml",
          DEV_FILE + "[scheduling]\npolicy = 'least_loaded'\n[node]\nrole = 'observer'\n")
    assert run(capsys, "config", "diff", "a.toml", "a.toml") == (0, "", "")
    code, out, _ = run(capsys, "config", "diff", "a.toml", "b.toml")
    assert code == 1
    assert 'node.role: "compute" -> "observer"  [static-local]' in out
    assert 'scheduling.policy: "predictive" -> "least_loaded"  [dynamic-consensus]' in out
    code, out, _ = run(capsys, "config", "diff", "a.toml", "b.toml", "--format", "json")
    data = json.loads(out)
    assert code == 1 and data["same"] is False
    assert {c["path"] for c in data["changes"]} == {"node.role", "scheduling.policy"}


# -- process ---------------------------------------------------------------------------
def test_python_dash_m_validate(tmp_path: Path) -> None:
    write("ok.toml", DEV_FILE)
    env = {k: v for k, v in os.environ.items() if not k.startswith("BUTTERFLY_")}
    done = subprocess.run(
        [sys.executable, "-m", "butterfly_config", "config", "validate", "--config", "ok.toml"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60, check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "ok.toml: valid" in done.stdout
    assert "Traceback" not in done.stderr


def test_show_hash_cluster_asks_the_node(capsys: pytest.CaptureFixture[str]) -> None:
    status = {"view": 0, "revision": 3, "cluster_hash": "ab" * 32, "nodes": [
        {"node_id": "node-1", "revision": 3, "cluster_hash": "ab" * 32, "state": "ready"},
        {"node_id": "node-2", "revision": 2, "cluster_hash": "cd" * 32, "state": "suspected"},
    ]}
    seen: list[tuple[str, str | None]] = []
    with canned_server(200, "application/json", json.dumps(status).encode(), seen) as url:
        code, out, _ = run(capsys, "config", "show", "--hash", "--cluster", "--url", url,
                           "--token", "t0k")
    assert code == 0
    assert seen == [("/api/v1/cluster/status", "Bearer t0k")]
    assert f"node-1: revision 3 cluster_hash {'ab' * 32} (ready)" in out
    assert f"node-2: revision 2 cluster_hash {'cd' * 32} (suspected)" in out


def test_show_explain_and_diff_mask_url_credentials(capsys: pytest.CaptureFixture[str]) -> None:
    write("ok.toml", DEV_FILE)
    secret = ["--set", "observability.tracing.endpoint=http://ops:hunter2@collector:4317"]
    for argv in (
        ["config", "show", "--config", "ok.toml", *secret],
        ["config", "show", "--config", "ok.toml", "--format", "json", *secret],
        ["config", "explain", "observability.tracing.endpoint", "--config", "ok.toml", *secret],
        ["config", "diff", "ok.toml", "ok.toml", *secret],
    ):
        _, out, err = run(capsys, *argv)
        assert "hunter2" not in out + err, argv
    _, out, _ = run(capsys, "config", "show", "--config", "ok.toml", *secret)
    assert "http://ops:***@collector:4317" in out
