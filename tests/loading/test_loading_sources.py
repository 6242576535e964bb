"""Each source on its own: files and includes, environment, env files, overrides, runtime."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterfly_config.errors import (
    ConfigIOError,
    ConfigSyntaxError,
    IncludeCycleError,
    UsageError,
)
from butterfly_config.merge import merge_layers
from butterfly_config.schema import registry
from butterfly_config.sources import (
    Layer,
    Source,
    cli_layer,
    defaults_layer,
    env_layer,
    file_layers,
    read_env_file,
    runtime_layer,
)
from butterfly_config.sources.schema_map import ValueKind, env_collisions, kind_of, leaf_kind
from butterfly_config.sources.values import ValueParseError, parse_text


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- defaults --------------------------------------------------------------------------
def test_defaults_layer_holds_every_set_default() -> None:
    layer = defaults_layer()
    assert layer.values["network"]["coordinator_addr"] == "127.0.0.1:7890"
    assert layer.values["metadata"]["environment"] == "development"
    assert "node_id" not in layer.values["node"]  # unset options are left out
    assert layer.origins == {} and layer.issues == []


# -- TOML files and includes -----------------------------------------------------------
def test_file_layer_records_known_leaves_and_drops_unknown_keys(tmp_path: Path) -> None:
    main = write(tmp_path / "main.toml",
                 "[network.connection]\nmax_connections = 5\nmax_conections = 6\n")
    includes, top = file_layers(main)
    assert includes == []
    assert top.values == {"network": {"connection": {"max_connections": 5}}}
    assert top.origins == {"network.connection.max_connections": Source("file", str(main))}
    [issue] = top.issues
    assert issue.severity == "warning" and issue.rule == "unknown-key"
    assert issue.path == "network.connection.max_conections"
    assert issue.line == 3
    assert issue.hint == "did you mean network.connection.max_connections?"


def test_strict_file_makes_unknown_keys_errors(tmp_path: Path) -> None:
    main = write(tmp_path / "main.toml", "[nework]\nlisten_addr = '1.2.3.4:5'\n")
    _, top = file_layers(main, strict=True)
    [issue] = top.issues
    assert issue.severity == "error"
    assert issue.hint == "did you mean network?"
    assert top.values == {}


def test_include_is_relative_to_the_including_file_and_overridden_by_it(tmp_path: Path) -> None:
    write(tmp_path / "conf" / "sub" / "net.toml",
          "[network]\nlisten_addr = '10.0.0.1:1000'\nprotocol = 'tcp'\n")
    write(tmp_path / "conf" / "base.toml",
          "[include]\nfiles = ['sub/net.toml']\n[network]\nprotocol = 'grpc'\n")
    main = write(tmp_path / "conf" / "main.toml",
                 "[include]\nfiles = ['base.toml']\n[network]\nlisten_addr = '10.0.0.2:2000'\n")
    includes, top = file_layers(main)
    values, origins = merge_layers([*includes, top])
    assert values["network"] == {"listen_addr": "10.0.0.2:2000", "protocol": "grpc"}
    assert "include" not in values  # the directive is consumed, not configuration
    assert origins["network.listen_addr"].kind == "file"
    protocol = origins["network.protocol"]
    assert protocol.kind == "include"
    assert protocol.chain == (str(main), str(tmp_path / "conf" / "base.toml"))


def test_nested_include_chain_names_every_file(tmp_path: Path) -> None:
    write(tmp_path / "c.toml", "[node]\nrole = 'observer'\n")
    write(tmp_path / "b.toml", "[include]\nfiles = ['c.toml']\n")
    main = write(tmp_path / "a.toml", "[include]\nfiles = ['b.toml']\n")
    includes, top = file_layers(main)
    _, origins = merge_layers([*includes, top])
    source = origins["node.role"]
    assert source.chain == (str(main), str(tmp_path / "b.toml"), str(tmp_path / "c.toml"))
    assert "a.toml -> " in source.describe() and source.describe().endswith("c.toml)")


def test_include_cycle_names_the_cycle(tmp_path: Path) -> None:
    write(tmp_path / "b.toml", "[include]\nfiles = ['a.toml']\n")
    main = write(tmp_path / "a.toml", "[include]\nfiles = ['b.toml']\n")
    with pytest.raises(IncludeCycleError) as caught:
        file_layers(main)
    a, b = str(main), str(tmp_path / "b.toml")
    assert caught.value.message == f"include cycle: {a} -> {b} -> {a}"
    assert caught.value.exit_code == 1


def test_self_include_is_a_cycle(tmp_path: Path) -> None:
    main = write(tmp_path / "a.toml", "[include]\nfiles = ['./a.toml']\n")
    with pytest.raises(IncludeCycleError):
        file_layers(main)


def test_same_file_included_twice_without_a_cycle_is_fine(tmp_path: Path) -> None:
    write(tmp_path / "common.toml", "[node]\nrole = 'observer'\n")
    write(tmp_path / "x.toml", "[include]\nfiles = ['common.toml']\n")
    main = write(tmp_path / "a.toml", "[include]\nfiles = ['common.toml', 'x.toml']\n")
    includes, _ = file_layers(main)
    assert len(includes) == 3


def test_missing_file_is_an_io_error_with_the_path(tmp_path: Path) -> None:
    with pytest.raises(ConfigIOError) as caught:
        file_layers(tmp_path / "nope.toml")
    assert str(tmp_path / "nope.toml") in caught.value.message
    assert caught.value.exit_code == 2


def test_missing_include_names_the_file_that_named_it(tmp_path: Path) -> None:
    main = write(tmp_path / "main.toml", "[include]\nfiles = ['gone.toml']\n")
    with pytest.raises(ConfigIOError) as caught:
        file_layers(main)
    assert caught.value.message == (
        f"{tmp_path / 'gone.toml'}: no such file (named in [include] files of {main})"
    )


def test_malformed_toml_is_a_syntax_error_with_position(tmp_path: Path) -> None:
    main = write(tmp_path / "bad.toml", "[node]\nrole = 'compute'\nrole2 = \n")
    with pytest.raises(ConfigSyntaxError) as caught:
        file_layers(main)
    [issue] = caught.value.errors
    assert (issue.file, issue.line, issue.column) == (str(main), 3, 9)


def test_non_utf8_file_is_a_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "latin.toml"
    path.write_bytes(b"[node]\nrole = '\xe9'\n")
    with pytest.raises(ConfigSyntaxError, match="not UTF-8"):
        file_layers(path)


def test_include_files_must_be_a_list_of_names(tmp_path: Path) -> None:
    main = write(tmp_path / "main.toml", "[include]\nfiles = 'x.toml'\n")
    _, top = file_layers(main)
    [issue] = top.issues
    assert issue.path == "include.files" and issue.severity == "error" and issue.line == 2


# -- environment -----------------------------------------------------------------------
@pytest.mark.parametrize("name", [
    "BUTTERFLY_NETWORK_CONNECTION__MAX_CONNECTIONS",
    "BUTTERFLY_NETWORK__CONNECTION__MAX_CONNECTIONS",
    "BUTTERFLY_NETWORK_CONNECTION_MAX_CONNECTIONS",
])
def test_env_names_map_by_schema(name: str) -> None:
    layer = env_layer({name: "42"})
    assert layer.values == {"network": {"connection": {"max_connections": 42}}}
    assert layer.origins["network.connection.max_connections"] == Source("env", name)


def test_env_f_value_and_node_id() -> None:
    layer = env_layer({"BUTTERFLY_BYZANTINE_F_VALUE": "2", "BUTTERFLY_NODE_NODE_ID": "n-7"})
    assert layer.values == {"byzantine": {"f_value": 2}, "node": {"node_id": "n-7"}}


def test_env_values_are_parsed_by_field_type() -> None:
    layer = env_layer({
        "BUTTERFLY_NETWORK_IPV6_ENABLED": "yes",
        "BUTTERFLY_RESOURCES_GPU_DEVICE_IDS": "0, 1,2",
        "BUTTERFLY_NETWORK_RETRY_BACKOFF_MULTIPLIER": "2.5",
        "BUTTERFLY_OBSERVABILITY_LOGGING_FILTERS": '{"butterfly_comm": "debug"}',
        "BUTTERFLY_PARTITION_MODEL_HINTS": '{ llama = { strategy = "custom" } }',
        "BUTTERFLY_METADATA_CLUSTER_NAME": " spaced ",
    })
    assert layer.issues == []
    assert layer.values["network"]["ipv6_enabled"] is True
    assert layer.values["resources"]["gpu"]["device_ids"] == [0, 1, 2]
    assert layer.values["network"]["retry"]["backoff_multiplier"] == 2.5
    assert layer.values["observability"]["logging"]["filters"] == {"butterfly_comm": "debug"}
    assert layer.values["partition"]["model_hints"] == {"llama": {"strategy": "custom"}}
    assert layer.values["metadata"]["cluster_name"] == " spaced "  # strings are raw


def test_env_list_accepts_json_and_toml_arrays() -> None:
    for text in ("[3, 4]", "[3,4,]"):
        layer = env_layer({"BUTTERFLY_RESOURCES_GPU_DEVICE_IDS": text})
        assert layer.values["resources"]["gpu"]["device_ids"] == [3, 4], text


def test_empty_env_value_unsets_an_optional_option() -> None:
    file_layer = Layer({"network": {"external_addr": "10.0.0.1:7890"}})
    layer = env_layer({"BUTTERFLY_NETWORK_EXTERNAL_ADDR": ""})
    assert layer.values == {"network": {"external_addr": None}}
    merged, _ = merge_layers([file_layer, layer])
    assert merged["network"]["external_addr"] is None


def test_env_bad_value_is_a_type_issue_naming_the_variable() -> None:
    layer = env_layer({"BUTTERFLY_BYZANTINE_F_VALUE": "two"})
    [issue] = layer.issues
    assert issue.path == "byzantine.f_value" and issue.rule == "type"
    assert issue.message == "BUTTERFLY_BYZANTINE_F_VALUE: 'two' is not an integer"
    assert layer.values == {}


def test_unknown_env_is_a_warning_with_suggestion_and_strict_makes_it_an_error() -> None:
    [warning] = env_layer({"BUTTERFLY_BYZANTINE_F_VALU": "1"}).issues
    assert warning.severity == "warning" and warning.rule == "unknown-env"
    assert warning.hint == "did you mean BUTTERFLY_BYZANTINE_F_VALUE (byzantine.f_value)?"
    [error] = env_layer({"BUTTERFLY_BYZANTINE_F_VALU": "1"}, strict=True).issues
    assert error.severity == "error"


def test_reserved_and_foreign_variables_are_skipped_silently() -> None:
    layer = env_layer({
        "BUTTERFLY_API_URL": "http://x", "BUTTERFLY_API_TOKEN": "t", "BUTTERFLY_CONFIG": "c.toml",
        "PATH": "/bin", "HOME": "/root",
    })
    assert layer.values == {} and layer.issues == []


def test_env_prefix_is_configurable() -> None:
    layer = env_layer({"BF_NODE_ROLE": "observer", "BUTTERFLY_NODE_ROLE": "compute"}, prefix="BF_")
    assert layer.values == {"node": {"role": "observer"}}


def test_no_two_schema_paths_collide_in_the_env_mapping() -> None:
    assert env_collisions() == {}
    assert len(registry.options()) > 200


# -- env files -------------------------------------------------------------------------
def test_env_file_syntax(tmp_path: Path) -> None:
    path = write(tmp_path / "node.env", "\n".join([
        "# comment",
        "export BUTTERFLY_NODE_ROLE=observer",
        'BUTTERFLY_METADATA_DESCRIPTION="a # not comment"',
        "BUTTERFLY_METADATA_CLUSTER_NAME='quoted'",
        "BUTTERFLY_NETWORK_PROTOCOL=tcp # trailing comment",
        "",
    ]))
    assert read_env_file(path) == {
        "BUTTERFLY_NODE_ROLE": ("observer", 2),
        "BUTTERFLY_METADATA_DESCRIPTION": ("a # not comment", 3),
        "BUTTERFLY_METADATA_CLUSTER_NAME": ("quoted", 4),
        "BUTTERFLY_NETWORK_PROTOCOL": ("tcp", 5),
    }


def test_real_environment_wins_over_env_file(tmp_path: Path) -> None:
    path = write(tmp_path / "node.env",
                 "BUTTERFLY_NODE_ROLE=observer\nBUTTERFLY_NETWORK_PROTOCOL=tcp\n")
    layer = env_layer({"BUTTERFLY_NODE_ROLE": "coordinator"}, env_files=[path])
    assert layer.values == {"node": {"role": "coordinator"}, "network": {"protocol": "tcp"}}
    assert layer.origins["network.protocol"] == Source(
        "env", "BUTTERFLY_NETWORK_PROTOCOL", chain=(str(path),), line=2
    )


def test_malformed_env_file_line(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.env", "BUTTERFLY_NODE_ROLE observer\n")
    with pytest.raises(ConfigSyntaxError) as caught:
        read_env_file(path)
    assert caught.value.errors[0].line == 1


# -- command line and runtime ----------------------------------------------------------
def test_cli_set_and_flags() -> None:
    layer = cli_layer(
        ["network.connection.max_connections=7", "resources.gpu.device_ids=0,1"],
        node_id="n1", listen_addr="0.0.0.0:1", log_level="debug",
    )
    assert layer.issues == []
    assert layer.values["network"] == {
        "connection": {"max_connections": 7}, "listen_addr": "0.0.0.0:1"
    }
    assert layer.values["resources"]["gpu"]["device_ids"] == [0, 1]
    assert layer.origins["node.node_id"] == Source("cli", "--node-id")
    assert layer.origins["observability.logging.level"] == Source("cli", "--log-level")
    assert layer.origins["network.connection.max_connections"] == Source("cli", "--set")


def test_cli_set_without_equals_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        cli_layer(["network.protocol"])


def test_cli_set_unknown_key_is_an_error_with_suggestion() -> None:
    [issue] = cli_layer(["network.protocl=tcp"]).issues
    assert issue.severity == "error" and issue.hint == "did you mean network.protocol?"


def test_cli_set_a_whole_section_as_inline_table() -> None:
    layer = cli_layer(["network.compression={algorithm = 'lz4', level = 3}"])
    assert layer.values == {"network": {"compression": {"algorithm": "lz4", "level": 3}}}
    assert set(layer.origins) == {"network.compression.algorithm", "network.compression.level"}


def test_runtime_layer_is_recorded_as_a_revision() -> None:
    layer = runtime_layer({"scheduling.policy": "least_loaded"}, revision=4)
    assert layer.origins["scheduling.policy"] == Source("runtime", "revision 4")


# -- value kinds -----------------------------------------------------------------------
def test_kinds_come_from_annotations() -> None:
    assert leaf_kind("byzantine.f_value") == ValueKind("int")
    assert leaf_kind("node.node_id") == ValueKind("str", optional=True)
    assert leaf_kind("resources.gpu.device_ids") == ValueKind("list", ValueKind("int"))
    assert leaf_kind("cluster.members") == ValueKind("list", ValueKind("table"))
    assert leaf_kind("partition.model_hints") == ValueKind("table")
    assert kind_of(bool) == ValueKind("bool")


@pytest.mark.parametrize(("text", "kind", "expected"), [
    ("TRUE", ValueKind("bool"), True),
    ("off", ValueKind("bool"), False),
    (" 12 ", ValueKind("int"), 12),
    ("1e3", ValueKind("float"), 1000.0),
    ("", ValueKind("list", ValueKind("int")), []),
    ("a, b", ValueKind("list", ValueKind("str")), ["a", "b"]),
])
def test_parse_text(text: str, kind: ValueKind, expected: object) -> None:
    assert parse_text(text, kind) == expected


@pytest.mark.parametrize(("text", "kind"), [
    ("maybe", ValueKind("bool")),
    ("1.5", ValueKind("int")),
    ("x", ValueKind("float")),
    ("a=1", ValueKind("table")),
    ("[1,", ValueKind("list", ValueKind("int"))),
])
def test_parse_text_refuses(text: str, kind: ValueKind) -> None:
    with pytest.raises(ValueParseError):
        parse_text(text, kind)


def test_every_leaf_round_trips_through_its_canonical_variable() -> None:
    """Deterministic companion of the property test: each leaf once, with a sample value."""
    import json

    from butterfly_config.schema.root import ConfigModel
    from butterfly_config.sources.schema_map import env_name

    for path, info in registry.options().items():
        if path.startswith("include."):
            continue
        sample = info.default if info.default not in (None, (), {}) else info.example
        if sample is None:
            sample = info.default
        if isinstance(sample, bool):
            text = "true" if sample else "false"
        elif isinstance(sample, (int, float, str)):
            text = str(sample)
        else:
            text = json.dumps(sample)
        layer = env_layer({env_name(path): text})
        assert layer.issues == [], path
        expected = ConfigModel.model_validate(nested_value(path, sample))
        got = ConfigModel.model_validate(merge_layers([layer])[0])
        assert got == expected, path


def nested_value(path: str, value: object) -> dict[str, object]:
    from butterfly_config.sources import set_path

    document: dict[str, object] = {}
    set_path(document, path, value)
    return document
