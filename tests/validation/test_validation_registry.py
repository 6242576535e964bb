"""The rule registry: built-in names, registering custom rules, crashing rules, the context."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from validation_helpers import make_model

from butterfly_config.errors import ConfigIssue, UsageError
from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import (
    ConfigValidator,
    FunctionRule,
    ValidationContext,
    ValidationRule,
    rule,
)

BUILTIN_NAMES = [
    "metadata.cluster-name",
    "network.address-conflict",
    "network.max-message-size",
    "network.connection-timeouts",
    "network.compression-level",
    "network.retry-backoff",
    "byzantine.cluster-size",
    "byzantine.fast-path-quorum",
    "byzantine.phi-thresholds",
    "byzantine.heartbeat-bounds",
    "byzantine.reputation-thresholds",
    "byzantine.view-change-timeout",
    "cluster.unique-members",
    "cluster.coordinator-member",
    "cluster.node-membership",
    "cluster.member-keys",
    "resources.memory-budget",
    "resources.gpu-devices",
    "partition.layer-bounds",
    "observability.log-file",
    "observability.tracing-endpoint",
    "security.tls-files",
    "security.signing-keys",
    "security.policy-file",
    "security.api-credentials",
    "security.encryption-key",
    "security.production-policy",
]

QUIET = ValidationContext(environment="development", gpu_count=0, check_paths=False)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Restore the default registry after a test that registers rules."""
    before = dict(ConfigValidator._registry)
    yield
    ConfigValidator._registry.clear()
    ConfigValidator._registry.update(before)


def test_builtin_rule_names_are_stable_and_unique() -> None:
    assert [r.name for r in ConfigValidator.default_rules()] == BUILTIN_NAMES


def test_every_builtin_rule_is_a_validation_rule_with_a_docstring() -> None:
    for builtin in ConfigValidator.default_rules():
        assert isinstance(builtin, ValidationRule)
        assert isinstance(builtin, FunctionRule)
        assert builtin.function.__doc__, builtin.name


def test_defaults_in_development_give_no_errors() -> None:
    issues = ConfigValidator().validate(make_model(), QUIET)
    assert [i.severity for i in issues] == ["warning"]  # standalone
    assert issues[0].rule == "byzantine.cluster-size"


def test_all_issues_are_collected_not_only_the_first() -> None:
    model = make_model(
        {
            "network.retry.initial_backoff_ms": 9000,
            "byzantine.failure_detection.phi_failed_threshold": 1.0,
            "partition.layer_affinity.min_layers_per_partition": 20,
            "resources.memory.max_total_bytes": 1,
        }
    )
    issues = ConfigValidator().validate(model, QUIET)
    errors = {i.rule for i in issues if i.severity == "error"}
    assert errors == {
        "network.retry-backoff",
        "byzantine.phi-thresholds",
        "partition.layer-bounds",
        "resources.memory-budget",
    }


def _seven_members(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
    if ctx.environment_of(config) == "production" and len(config.cluster.members) < 7:
        yield ConfigIssue("cluster.members", "production needs 7 members", "add members")


@pytest.mark.usefixtures("clean_registry")
def test_register_a_named_function_with_the_decorators() -> None:
    @ConfigValidator.register
    @rule("site.production-members")
    def seven(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        return _seven_members(config, ctx)

    assert isinstance(seven, FunctionRule)
    assert ConfigValidator.default_rules()[-1] is seven
    ctx = ValidationContext(environment="production", check_paths=False)
    issues = ConfigValidator().validate(make_model(), ctx)
    (found,) = [i for i in issues if i.rule.startswith("site")]
    assert found.rule == "site.production-members"  # filled in from the rule's name
    assert found.severity == "error"
    assert ConfigValidator().validate(make_model(), QUIET)[-1].rule != "site.production-members"


@pytest.mark.usefixtures("clean_registry")
def test_register_a_plain_function_and_a_class() -> None:
    returned = ConfigValidator.register(_seven_members)
    assert returned is _seven_members  # usable as a decorator: the function is unchanged

    @ConfigValidator.register
    class NoProfilingInProduction:
        name = "site.no-profiling"

        def check(self, config: ConfigModel, ctx: ValidationContext) -> list[ConfigIssue]:
            if config.observability.profiling.enabled:
                return [ConfigIssue("observability.profiling.enabled", "off please")]
            return []

    @ConfigValidator.register(name="site.named-by-argument")
    def anything(config: ConfigModel, ctx: ValidationContext) -> list[ConfigIssue]:
        return [ConfigIssue("metadata", "always", severity="warning")]

    names = [r.name for r in ConfigValidator.default_rules()]
    assert names[-3:] == ["_seven_members", "site.no-profiling", "site.named-by-argument"]
    model = make_model({"observability.profiling.enabled": True})
    rules = {i.rule for i in ConfigValidator().validate(model, QUIET)}
    assert {"site.no-profiling", "site.named-by-argument"} <= rules


@pytest.mark.usefixtures("clean_registry")
def test_a_taken_name_is_refused_unless_replaced_and_unregister_removes() -> None:
    first = FunctionRule("site.rule", lambda config, ctx: [])
    ConfigValidator.register(first)
    ConfigValidator.register(first)  # the same rule again is harmless
    with pytest.raises(ValueError, match="already registered"):
        ConfigValidator.register(FunctionRule("site.rule", lambda config, ctx: []))
    second = FunctionRule("site.rule", lambda config, ctx: [ConfigIssue("x", "y")])
    ConfigValidator.register(second, replace=True)
    assert ConfigValidator.unregister("site.rule") is second
    with pytest.raises(KeyError, match=r"no validation rule named 'site\.rule'"):
        ConfigValidator.unregister("site.rule")


def test_things_that_are_not_rules_are_refused() -> None:
    with pytest.raises(TypeError, match="cannot register"):
        ConfigValidator.register(42)
    with pytest.raises(ValueError, match="lambda needs a name"):
        ConfigValidator(rules=[lambda config, ctx: []])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="non-empty name"):
        rule("")


def test_a_crashing_rule_becomes_an_error_issue_naming_it() -> None:
    def explode(config: ConfigModel, ctx: ValidationContext) -> Iterator[ConfigIssue]:
        yield ConfigIssue("metadata", "partial result is dropped")
        raise ZeroDivisionError("division by zero")

    validator = ConfigValidator(
        rules=[FunctionRule("site.explodes", explode), *ConfigValidator.default_rules()]
    )
    issues = validator.validate(make_model(), QUIET)
    crash = issues[0]
    assert crash.rule == "site.explodes"
    assert crash.severity == "error"
    assert crash.message == (
        "validation rule 'site.explodes' failed: ZeroDivisionError: division by zero"
    )
    assert "ConfigValidator.unregister('site.explodes')" in crash.hint
    assert any(i.rule == "byzantine.cluster-size" for i in issues[1:])  # others still ran


def test_a_rule_yielding_something_else_than_issues_becomes_an_error() -> None:
    validator = ConfigValidator(rules=[FunctionRule("site.sloppy", lambda c, x: ["oops"])])
    (issue,) = validator.validate(make_model(), QUIET)
    assert issue.rule == "site.sloppy"
    assert "not a ConfigIssue" in issue.message


def test_a_rule_keeps_its_own_rule_name_in_issues() -> None:
    own = FunctionRule("site.a", lambda c, x: [ConfigIssue("p", "m", rule="site.b")])
    assert ConfigValidator(rules=[own]).validate(make_model(), QUIET)[0].rule == "site.b"


def test_validate_without_context_uses_the_document_environment() -> None:
    model = make_model({"metadata.environment": "production"})
    issues = ConfigValidator().validate(model)
    severities = {i.severity for i in issues if i.rule.startswith("security.tls")}
    assert severities == {"error"}


def test_context_environment_overrides_the_document() -> None:
    model = make_model({"metadata.environment": "production"})
    assert ValidationContext().environment_of(model) == "production"
    assert ValidationContext(environment="test").environment_of(model) == "test"
    assert ValidationContext(environment="staging").machine_severity(model) == "error"
    assert ValidationContext(environment="test").machine_severity(model) == "warning"


def test_context_refuses_unknown_environment_and_negative_gpus() -> None:
    with pytest.raises(UsageError, match="unknown environment 'prod'"):
        ValidationContext(environment="prod")
    with pytest.raises(UsageError, match="cannot be negative"):
        ValidationContext(gpu_count=-1)


def test_context_resolves_relative_paths_against_base_dir(tmp_path: Path) -> None:
    ctx = ValidationContext(base_dir=str(tmp_path))  # type: ignore[arg-type]
    assert ctx.base_dir == tmp_path
    assert ctx.resolve_path("certs/a.pem") == str(tmp_path / "certs" / "a.pem")
    assert ctx.resolve_path("/abs/a.pem") == "/abs/a.pem"
    assert ValidationContext().resolve_path("rel.pem") == "rel.pem"
