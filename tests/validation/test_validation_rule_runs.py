"""Rebuilding a configuration re-runs only the rules that read a changed section.

The issues must be exactly those of a full run of every rule on the result,
whatever the sequence of changes; rules registered later, and rules that read
the whole model, always run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from butterfly_config.config import ButterflyConfig, LoadSettings
from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import ConfigValidator, ValidationContext
from butterfly_config.validation import registry as rule_registry
from butterfly_config.validation.registry import issues_of

ADDRESSES = st.sampled_from(["0.0.0.0:7890", "127.0.0.1:7890", "127.0.0.1:8080",
                             "localhost:9090", "[::1]:8080", "10.0.0.1:7890"])
MEMBERS = st.lists(
    st.fixed_dictionaries({
        "node_id": st.sampled_from(["n1", "n2", "n3", "n4", "n5"]),
        "addr": ADDRESSES,
        "api_addr": ADDRESSES,
        "public_key": st.sampled_from(["a2V5LTE=", "a2V5LTI=", "/keys/x.pub"]),
    }),
    max_size=6,
)
CHANGES = st.one_of(
    st.tuples(st.just("metadata.environment"),
              st.sampled_from(["development", "test", "staging", "production"])),
    st.tuples(st.just("metadata.cluster_name"), st.sampled_from(["prod", "a b", "x" * 70])),
    st.tuples(st.sampled_from(["network.listen_addr", "network.api_addr",
                               "observability.metrics.listen_addr",
                               "network.coordinator_addr"]), ADDRESSES),
    st.tuples(st.just("network.compression.level"), st.integers(1, 22)),
    st.tuples(st.just("network.compression.algorithm"),
              st.sampled_from(["none", "lz4", "zstd", "snappy"])),
    st.tuples(st.just("observability.metrics.enabled"), st.booleans()),
    st.tuples(st.just("byzantine.f_value"), st.integers(1, 3)),
    st.tuples(st.just("byzantine.agreement.fast_path_quorum"), st.integers(0, 8)),
    st.tuples(st.just("cluster.members"), MEMBERS),
    st.tuples(st.just("node.node_id"), st.sampled_from(["n1", "n9"])),
    st.tuples(st.just("resources.memory.max_model_bytes"), st.integers(0, 1 << 41)),
    st.tuples(st.just("observability.tracing.endpoint"),
              st.sampled_from(["http://collector:4317", "not a url"])),
    st.tuples(st.just("security.api.require_auth"), st.booleans()),
    st.tuples(st.just("security.signing.verification"),
              st.sampled_from(["strict", "warn", "none"])),
)
SETTINGS = LoadSettings(check_paths=False, gpu_count=1)


def _full_run(config: ButterflyConfig) -> list[ConfigIssue]:
    ctx = ValidationContext(gpu_count=SETTINGS.gpu_count, check_paths=SETTINGS.check_paths)
    return ConfigValidator().validate(config.model, ctx)


def _changed(config: ButterflyConfig, path: str, value: Any) -> ButterflyConfig | None:
    try:
        return config.with_values({path: value})
    except ConfigError:
        return None  # refused: the configuration stays as it was


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(changes=st.lists(CHANGES, min_size=1, max_size=12))
def test_spared_rules_give_exactly_the_issues_of_a_full_run(
    changes: list[tuple[str, Any]],
) -> None:
    config = ButterflyConfig(ConfigModel(), settings=SETTINGS).with_values(
        {"metadata.environment": "development"})
    for path, value in changes:
        config = _changed(config, path, value) or config
        assert issues_of(config._rule_runs) == _full_run(config), path


def _counting_runs(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    ran: list[str] = []
    tracked = rule_registry._tracked_run

    def counting(rule: Any, config: ConfigModel, ctx: ValidationContext) -> Any:
        ran.append(rule.name)
        return tracked(rule, config, ctx)

    monkeypatch.setattr(rule_registry, "_tracked_run", counting)
    return ran


def test_a_change_to_one_section_reruns_only_the_rules_that_read_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = ButterflyConfig(ConfigModel(), settings=SETTINGS).with_values(
        {"network.compression.level": 2})
    ran = _counting_runs(monkeypatch)
    config.with_values({"network.compression.level": 5})
    assert ran and all(name.startswith(("network.", "cluster.coordinator")) for name in ran)
    assert len(ran) < len(ConfigValidator.default_rules()) / 3


def test_rules_registered_later_and_rules_that_read_the_whole_model_always_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls: list[str] = []

    def plugin(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        calls.append("plugin")
        return iter(())

    def reads_everything(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        config.model_dump()
        calls.append("whole")
        return iter(())

    monkeypatch.setitem(ConfigValidator._registry, "site.plugin", rule_registry.as_rule(plugin))
    # treated as built-in, so only reading the whole model makes it run every time
    whole = rule_registry.as_rule(reads_everything, name="site.whole")
    monkeypatch.setattr(rule_registry, "_BUILTIN_RULE_IDS",
                        rule_registry._BUILTIN_RULE_IDS | {id(whole)})
    monkeypatch.setitem(ConfigValidator._registry, "site.whole", whole)
    config = ButterflyConfig(ConfigModel(), settings=SETTINGS).with_values(
        {"network.compression.level": 2})
    calls.clear()
    config.with_values({"network.compression.level": 3})
    assert calls == ["plugin", "whole"]


def test_a_rule_replaced_since_the_last_build_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Same number of rules, one of them another: its earlier run is not the new rule's."""
    name = "security.tls-files"  # reads only `security`: a network change would spare it
    assert name in ConfigValidator._registry
    config = ButterflyConfig(ConfigModel(), settings=SETTINGS).with_values(
        {"network.compression.level": 2})

    def stricter(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        config.security  # noqa: B018 - reads one section, as the replaced rule does
        yield ConfigIssue(path="security", message="refused by the replacement", rule=name)

    replacement = rule_registry.as_rule(stricter, name=name)
    monkeypatch.setattr(rule_registry, "_BUILTIN_RULE_IDS",
                        rule_registry._BUILTIN_RULE_IDS | {id(replacement)})
    monkeypatch.setitem(ConfigValidator._registry, name, replacement)
    with pytest.raises(ConfigError) as refused:
        config.with_values({"network.compression.level": 3})
    assert "refused by the replacement" in [i.message for i in refused.value.errors]


def test_files_are_checked_again_when_their_options_change(tmp_path: Path) -> None:
    present = tmp_path / "policy.yaml"
    present.write_text("roles: {}\n", encoding="utf-8")
    config = ButterflyConfig(ConfigModel(), settings=LoadSettings(check_paths=True)).with_values(
        {"security.access_control.policy_file": str(present)})
    policy_issues = [i for i in issues_of(config._rule_runs) if i.rule == "security.policy-file"]
    assert policy_issues == []
    missing = config.with_values({"security.access_control.policy_file": str(tmp_path / "no")})
    assert [i.rule for i in issues_of(missing._rule_runs)].count("security.policy-file") == 1
