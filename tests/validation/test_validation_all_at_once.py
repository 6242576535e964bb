"""One validation pass reports everything it can (DESIGN 1.4).

A value the schema refuses must not hide the cross-field rules: every rule
whose inputs are all valid still reports. A rule that reads a refused option
cannot judge it, so it reports nothing rather than a misleading error about
the default standing in for the refused value.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from butterfly_config import ConfigLoader
from butterfly_config.cli.main import main
from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import ConfigValidator, ValidationContext

SIX_RULE_ERRORS = """\
[network.compression]
algorithm = "lz4"
level = 15
[network.buffers]
max_message_size_bytes = 1000
[network.connection]
connection_timeout_ms = 5000
idle_timeout_ms = 4000
[byzantine.failure_detection]
phi_suspect_threshold = 10.0
phi_failed_threshold = 5.0
[byzantine.reputation]
enabled = true
isolate_threshold = 0.8
suspect_threshold = 0.3
[resources.memory]
max_total_bytes = 1000
"""
SIX_RULES = {
    "network.compression-level", "network.max-message-size", "network.connection-timeouts",
    "byzantine.phi-thresholds", "byzantine.reputation-thresholds", "resources.memory-budget",
}
FIVE_TYPE_ERRORS = """\
[network.connection]
max_connections = "many"
keepalive_interval_ms = "often"
[partition]
strategy = 42
[scheduling]
policy = 42
[observability.logging]
level = 7
"""


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BUTTERFLY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def refused(text: str, *, strict: bool = False) -> list[ConfigIssue]:
    """Every issue of loading `text` from node.toml (which must be refused)."""
    Path("node.toml").write_text("[metadata]\nenvironment = 'test'\n" + text, encoding="utf-8")
    loader = ConfigLoader().add_file("node.toml").set_environ({}).strict(strict)
    with pytest.raises(ConfigError) as caught:
        loader.check_paths(False).set_gpu_count(0).load()
    return caught.value.errors


def errors(issues: list[ConfigIssue]) -> list[ConfigIssue]:
    return [issue for issue in issues if issue.severity == "error"]


def test_a_type_error_does_not_hide_the_cross_field_rules() -> None:
    found = errors(refused("[byzantine.checkpoint]\ninterval_tokens = 0\n" + SIX_RULE_ERRORS))
    assert len(found) == 7
    assert [(i.rule, i.path) for i in found[:1]] == [
        ("type", "byzantine.checkpoint.interval_tokens")]
    assert {i.rule for i in found[1:]} == SIX_RULES
    assert all(i.file == "node.toml" and i.line for i in found)  # each says where


def test_rule_warnings_are_reported_beside_a_type_error() -> None:
    issues = refused("[byzantine.checkpoint]\ninterval_tokens = 0\n")
    assert any(i.rule == "byzantine.cluster-size" and i.severity == "warning" for i in issues)


def test_a_rule_reading_a_refused_option_reports_nothing() -> None:
    # the default connection timeout (5000 ms) would be "longer than idle 1 ms",
    # and lz4's range would be checked for an algorithm nobody wrote
    found = refused(
        "[network.connection]\nconnection_timeout_ms = 'x'\nidle_timeout_ms = 1\n"
        "[network.compression]\nalgorithm = 42\nlevel = 15\n"
        "[byzantine]\nf_value = 'two'\n"
    )
    assert [(i.rule, i.path) for i in errors(found)] == [
        ("type", "network.connection.connection_timeout_ms"),
        ("type", "network.compression.algorithm"),
        ("type", "byzantine.f_value"),
    ]
    # the standalone warning reads f_value: it is not given for a value nobody wrote
    assert not [i for i in found if i.rule == "byzantine.cluster-size"]


def test_an_unknown_key_and_five_type_errors_are_all_reported() -> None:
    found = refused("[network]\nbogus_key = 1\n" + FIVE_TYPE_ERRORS, strict=True)
    assert [i.rule for i in errors(found)] == ["unknown-key", *["type"] * 5]


def test_an_unknown_key_inside_a_member_stands_the_member_list_down() -> None:
    found = refused(
        "[[cluster.members]]\nnode_id = 'a'\naddr = '127.0.0.1:7001'\n"
        "api_addr = '127.0.0.1:8001'\npublic_key = 'a2V5'\nbogus = 1\n"
        "[network.compression]\nalgorithm = 'lz4'\nlevel = 15\n"
    )
    assert [(i.rule, i.path) for i in errors(found)] == [
        ("unknown-key", "cluster.members[0].bogus"),
        ("network.compression-level", "network.compression.level"),
    ]
    # with the list refused, "no members: standalone" would be about a list nobody wrote
    assert not [i for i in found
                if i.path.startswith("cluster.members") and i.rule != "unknown-key"]


def test_with_values_reports_the_rules_beside_a_type_error() -> None:
    config = ButterflyConfig.defaults()
    with pytest.raises(ConfigError) as caught:
        config.with_values({"byzantine.checkpoint.interval_tokens": 0,
                            "network.compression.algorithm": "lz4",
                            "network.compression.level": 15})
    assert [i.rule for i in errors(caught.value.errors)] == ["type", "network.compression-level"]


@pytest.fixture
def plug_ins() -> Iterator[list[object]]:
    """Two registered rules: one reads a section's method, one a single option."""
    seen: list[object] = []

    def whole_network(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        seen.append(isinstance(config, ConfigModel))
        config.network.model_dump()
        yield ConfigIssue("network", "site policy: network reviewed")

    def environment_only(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        yield ConfigIssue("metadata.environment", f"site policy: {config.metadata.environment}")

    ConfigValidator.register(whole_network, name="site.whole-network")
    ConfigValidator.register(environment_only, name="site.environment")
    try:
        yield seen
    finally:
        ConfigValidator.unregister("site.whole-network")
        ConfigValidator.unregister("site.environment")


def test_registered_rules_are_judged_by_what_they_read(plug_ins: list[object]) -> None:
    found = refused("[network.connection]\nmax_connections = 'many'\n")
    rules = [i.rule for i in errors(found)]
    assert rules == ["type", "site.environment"]  # the network reader read the refused value
    assert plug_ins and all(plug_ins)  # it saw a ConfigModel, as on a valid document


def test_validate_cli_lists_every_error(capsys: pytest.CaptureFixture[str]) -> None:
    Path("bad.toml").write_text(
        "[metadata]\nenvironment = 'test'\n[byzantine.checkpoint]\ninterval_tokens = 0\n"
        + SIX_RULE_ERRORS, encoding="utf-8")
    code = main(["config", "validate", "--config", "bad.toml"])
    out = capsys.readouterr().out
    assert code == 1
    assert out.splitlines()[-1].startswith("bad.toml: invalid: 7 errors")
