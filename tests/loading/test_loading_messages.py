"""Golden tests: the exact text an operator reads for the commonest mistakes."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterfly_config import ConfigLoader
from butterfly_config.errors import ButterflyError


def refusal(text: str, *, strict: bool = False, name: str = "node.toml") -> str:
    """Load `text` from ./node.toml and return what the CLI would print."""
    Path(name).write_text(text, encoding="utf-8")
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().add_file(name).set_environ({}).strict(strict).load()
    return errors_only(caught.value)


def errors_only(exc: ButterflyError) -> str:
    """The error lines of a refusal (the defaults' own warnings are not the point here)."""
    issues = getattr(exc, "errors", [])
    if not issues:
        return exc.render()
    return "\n".join(i.render() for i in issues if i.severity == "error")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_malformed_toml_names_line_and_column() -> None:
    assert refusal("[network]\nlisten_addr = \n") == (
        "node.toml:2:15: error: invalid TOML: Invalid value [syntax]\n"
        "  hint: see https://toml.io for the syntax"
    )


def test_malformed_toml_unclosed_table_header() -> None:
    assert refusal("[metadata]\nconfig_version = '1.0.0'\n[network\n") == (
        "node.toml:3:9: error: invalid TOML: Expected ']' at the end of a table declaration"
        " [syntax]\n"
        "  hint: see https://toml.io for the syntax"
    )


def test_wrong_type_names_file_line_expected_type_and_example() -> None:
    assert refusal('[network.connection]\nmax_connections = "lots"\n') == (
        "node.toml:2: error: network.connection.max_connections: Input should be a valid "
        "integer, got 'lots' [type]\n"
        "  hint: network.connection.max_connections expects integer >= 1, e.g. 1000"
    )


def test_integer_beyond_64_bits_is_refused_where_it_is_written() -> None:
    # TOML readers accept it, but it could not be hashed, stored or sent to a peer
    assert refusal("[advanced]\nworker_stack_size_bytes = 1180591620717411303424\n") == (
        "node.toml:2: error: advanced.worker_stack_size_bytes: Input should be less than or "
        "equal to 9223372036854775807, got 1180591620717411303424 [type]\n"
        "  hint: advanced.worker_stack_size_bytes expects integer >= 1, e.g. 2097152"
    )


def test_unknown_key_with_suggestion_under_strict() -> None:
    assert refusal("[network.connection]\n\nmax_conections = 5\n", strict=True) == (
        "node.toml:3: error: network.connection.max_conections: unknown key "
        "'network.connection.max_conections' [unknown-key]\n"
        "  hint: did you mean network.connection.max_connections?"
    )


def test_unknown_key_is_a_warning_by_default() -> None:
    Path("node.toml").write_text("[network.connection]\nmax_conections = 5\n")
    config = ConfigLoader().add_file("node.toml").set_environ({}).load()
    [warning] = [w for w in config.warnings if w.rule == "unknown-key"]
    assert warning.render() == (
        "node.toml:2: warning: network.connection.max_conections: unknown key "
        "'network.connection.max_conections' (ignored) [unknown-key]\n"
        "  hint: did you mean network.connection.max_connections?"
    )


def test_include_cycle_names_the_cycle() -> None:
    Path("b.toml").write_text("[include]\nfiles = ['node.toml']\n")
    assert refusal("[include]\nfiles = ['b.toml']\n") == (
        "b.toml:2: error: include.files: include cycle: node.toml -> b.toml -> node.toml "
        "[include-cycle]\n"
        "  hint: remove one of these includes"
    )


def test_wrong_type_from_environment_names_the_variable() -> None:
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().set_environ({"BUTTERFLY_NETWORK_COMPRESSION_LEVEL": "high"}).load()
    assert errors_only(caught.value) == (
        "error: network.compression.level: BUTTERFLY_NETWORK_COMPRESSION_LEVEL: "
        "'high' is not an integer [type]\n"
        "  hint: network.compression.level expects an integer"
    )


def test_missing_file_message() -> None:
    with pytest.raises(ButterflyError) as caught:
        ConfigLoader().add_file("absent.toml").load()
    assert caught.value.exit_code == 2
    assert caught.value.render() == (
        "absent.toml: no such file\n"
        "  hint: check the path given with --config or BUTTERFLY_CONFIG"
    )
