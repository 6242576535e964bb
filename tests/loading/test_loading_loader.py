"""The loader end to end: precedence, provenance, node id, one validation, the reference file."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterfly_config import ButterflyConfig, ConfigLoader, ValidationFailed
from butterfly_config.errors import ConfigError
from butterfly_config.sources import Source
from butterfly_config.sources.generated import derived_node_id

DEV = {"BUTTERFLY_METADATA_ENVIRONMENT": "development"}


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_precedence_defaults_include_file_env_cli_runtime(tmp_path: Path) -> None:
    write(tmp_path / "inc.toml", "[scheduling]\npolicy = 'least_loaded'\n"
          "[network.connection]\nmax_connections = 1\nmax_connections_per_peer = 2\n"
          "idle_timeout_ms = 600000\n")
    main = write(tmp_path / "main.toml", "[include]\nfiles = ['inc.toml']\n"
                 "[network.connection]\nmax_connections = 10\nmax_connections_per_peer = 20\n")
    env_file = write(tmp_path / "e.env", "BUTTERFLY_NETWORK_CONNECTION_MAX_CONNECTIONS=100\n")
    loader = (
        ConfigLoader().add_file(main).add_env_file(env_file)
        .set_environ({"BUTTERFLY_NETWORK_CONNECTION_MAX_CONNECTIONS_PER_PEER": "30"})
        .add_set_arguments(["scheduling.policy=predictive"])
        .add_runtime({"scheduling.policy": "round_robin"}, revision=3)
    )
    config = loader.load()
    assert config.get_value("network.connection.idle_timeout_ms") == 600000  # include
    assert config.get_value("network.connection.max_connections") == 100  # env file
    assert config.get_value("network.connection.max_connections_per_peer") == 30  # env
    assert config.get_value("scheduling.policy") == "round_robin"  # runtime
    assert config.provenance("network.connection.idle_timeout_ms").kind == "include"
    assert config.provenance("network.connection.max_connections").chain == (str(env_file),)
    assert config.provenance("scheduling.policy") == Source("runtime", "revision 3")
    assert config.provenance("network.protocol") == Source("default", "defaults")
    assert config.provenance("network.connection.max_connections_per_peer") == Source(
        "env", "BUTTERFLY_NETWORK_CONNECTION_MAX_CONNECTIONS_PER_PEER"
    )


def test_later_files_override_earlier(tmp_path: Path) -> None:
    a = write(tmp_path / "a.toml", "[node]\nrole = 'observer'\nlog_dir = '/a'\n")
    b = write(tmp_path / "b.toml", "[node]\nrole = 'coordinator'\n")
    config = ConfigLoader().add_file(a).add_file(b).set_environ({}).load()
    assert config.get_value("node.role") == "coordinator"
    assert config.get_value("node.log_dir") == "/a"
    assert config.provenance("node.role") == Source("file", str(b), line=2)


def test_provenance_line_is_found_on_demand(tmp_path: Path) -> None:
    main = write(tmp_path / "m.toml", "# top\n\n[network]\n\nprotocol = 'tcp'\n")
    config = ConfigLoader().add_file(main).set_environ({}).load()
    assert config.origins["network.protocol"].line is None  # nothing looked up while loading
    assert config.provenance("network.protocol").line == 5


def test_node_id_is_generated_stable_per_data_dir(tmp_path: Path) -> None:
    data = tmp_path / "data"
    main = write(tmp_path / "m.toml", f"[node]\ndata_dir = '{data}'\n")
    first = ConfigLoader().add_file(main).set_environ({}).load()
    second = ConfigLoader().add_file(main).set_environ({}).load()
    node_id = first.get_value("node.node_id")
    assert node_id == second.get_value("node.node_id") == derived_node_id(str(data))
    assert node_id.startswith("node-") and len(node_id) == 17
    assert first.provenance("node.node_id").kind == "generated"


def test_persisted_node_id_wins(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "node_id").write_text("node-kept\n")
    main = write(tmp_path / "m.toml", f"[node]\ndata_dir = '{data}'\n")
    config = ConfigLoader().add_file(main).set_environ({}).load()
    assert config.get_value("node.node_id") == "node-kept"
    assert config.provenance("node.node_id") == Source("generated", str(data / "node_id"))


def test_a_relative_data_dir_starts_at_the_config_file_not_the_working_dir(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "etc"
    home.mkdir()
    (home / "state").mkdir()
    (home / "state" / "node_id").write_text("node-kept\n")
    main = write(home / "m.toml", "[node]\ndata_dir = 'state'\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # as a service manager starting the node in /
    config = ConfigLoader().add_file(main).set_environ({}).load()
    assert config.data_dir == str(home / "state")
    assert config.get_value("node.node_id") == "node-kept"
    assert config.get_value("node.data_dir") == "state"  # the option keeps what was written
    assert config.resolve_path("/abs/path") == "/abs/path"
    monkeypatch.setenv("HOME", str(tmp_path / "someone"))
    assert config.resolve_path("~/keys/a.pem") == str(tmp_path / "someone" / "keys" / "a.pem")


def test_every_issue_is_reported_together(tmp_path: Path) -> None:
    main = write(tmp_path / "m.toml", "[network]\nprotocol = 'carrier-pigeon'\nbogus = 1\n"
                 "[network.connection]\nmax_connections = 'many'\n")
    with pytest.raises(ValidationFailed) as caught:
        (ConfigLoader().add_file(main)
         .set_environ({"BUTTERFLY_BYZANTINE_F_VALUE": "x", "BUTTERFLY_NOPE": "1"}).load())
    issues = {(i.path, i.severity) for i in caught.value.errors}
    assert issues >= {
        ("network.protocol", "error"),
        ("network.connection.max_connections", "error"),
        ("byzantine.f_value", "error"),
        ("network.bogus", "warning"),
        ("", "warning"),
    }


def test_strict_turns_unknown_keys_and_variables_into_errors(tmp_path: Path) -> None:
    main = write(tmp_path / "m.toml", "[network]\nbogus = 1\n")
    loose = ConfigLoader().add_file(main).set_environ({"BUTTERFLY_NOPE": "1"}).load()
    assert {w.rule for w in loose.warnings} >= {"unknown-key", "unknown-env"}
    with pytest.raises(ConfigError) as caught:
        ConfigLoader().add_file(main).set_environ({"BUTTERFLY_NOPE": "1"}).strict(True).load()
    rules = {i.rule for i in caught.value.errors if i.severity == "error"}
    assert rules == {"unknown-key", "unknown-env"}


def test_type_error_from_env_names_the_variable(tmp_path: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ConfigLoader().set_environ({"BUTTERFLY_NETWORK_COMPRESSION_LEVEL": "99"}).load()
    [issue] = [i for i in caught.value.errors if i.severity == "error"]
    assert issue.path == "network.compression.level"
    assert issue.message.endswith(" (set by env BUTTERFLY_NETWORK_COMPRESSION_LEVEL)")
    assert issue.message.count("BUTTERFLY_") == 1


def test_env_parse_error_is_not_blamed_on_a_file_setting_the_same_option(tmp_path: Path) -> None:
    main = write(tmp_path / "m.toml", "[byzantine]\nf_value = 1\n")
    with pytest.raises(ValidationFailed) as caught:
        ConfigLoader().add_file(main).set_environ({"BUTTERFLY_BYZANTINE_F_VALUE": "x"}).load()
    [issue] = [i for i in caught.value.errors if i.severity == "error"]
    assert issue.file is None and "BUTTERFLY_BYZANTINE_F_VALUE" in issue.message


def test_reference_file_loads_in_development_with_warnings_only(reference_dir: Path) -> None:
    config = ConfigLoader().add_file(reference_dir / "config_schema.toml").set_environ(DEV).load()
    assert config.get_value("node.node_id") == "node-001"
    assert config.get_value("metadata.environment") == "development"
    assert config.warnings and all(w.severity == "warning" for w in config.warnings)
    tls = [w for w in config.warnings if w.path == "security.tls.cert_file"]
    assert tls and tls[0].file == str(reference_dir / "config_schema.toml") and tls[0].line


def test_reference_file_as_is_is_refused_for_production_paths(reference_dir: Path) -> None:
    with pytest.raises(ValidationFailed) as caught:
        ConfigLoader().add_file(reference_dir / "config_schema.toml").set_environ({}).load()
    assert any(i.path == "security.tls.cert_file" and i.severity == "error"
               for i in caught.value.errors)


def test_defaults_alone_are_valid() -> None:
    config = ConfigLoader().set_environ({}).load()
    assert config.model.network.coordinator_addr == "127.0.0.1:7890"
    assert ButterflyConfig.defaults().get_value("node.node_id") is None
