"""Helpers for the validation tests: models from overrides of the defaults, one rule's issues."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from butterfly_config.errors import ConfigIssue
from butterfly_config.schema.root import ConfigModel
from butterfly_config.validation import ConfigValidator, ValidationContext, ValidationRule

SECURE_FILES = (
    "security.tls.cert_file",
    "security.tls.key_file",
    "security.tls.ca_file",
    "security.signing.private_key_file",
    "security.signing.public_key_file",
    "security.access_control.policy_file",
    "security.api.jwt_secret_file",
)
"""Options naming files that the defaults (and the reference file) need to exist."""


def document(overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A nested document from dotted-path overrides of the defaults (`{}` = all defaults)."""
    doc: dict[str, Any] = {}
    for dotted, value in (overrides or {}).items():
        *parents, leaf = dotted.split(".")
        table = doc
        for key in parents:
            table = table.setdefault(key, {})
        table[leaf] = value
    return doc


def make_model(overrides: Mapping[str, Any] | None = None, **sections: Any) -> ConfigModel:
    """`ConfigModel` of the defaults with `overrides` (dotted paths) applied."""
    doc = document(overrides)
    doc.update(sections)
    return ConfigModel.model_validate(doc)


def member_tables(count: int, *, keys: list[str] | None = None) -> list[dict[str, str]]:
    """`count` distinct members on 10.0.0.x, peer port 7890, API port 8080."""
    return [
        {
            "node_id": f"node-{index:03d}",
            "addr": f"10.0.0.{index + 1}:7890",
            "api_addr": f"10.0.0.{index + 1}:8080",
            "public_key": keys[index] if keys else f"a2V5LW9mLW5vZGUt{index:04d}",
        }
        for index in range(count)
    ]


def rule_named(name: str) -> ValidationRule:
    for candidate in ConfigValidator.default_rules():
        if candidate.name == name:
            return candidate
    raise LookupError(f"no built-in rule {name}")


def run_rule(
    name: str,
    model: ConfigModel,
    *,
    environment: str | None = "development",
    base_dir: Path | None = None,
    gpu_count: int | None = 0,
    check_paths: bool = True,
) -> list[ConfigIssue]:
    """Issues of the built-in rule `name` alone, through the validator (names filled in)."""
    ctx = ValidationContext(
        environment=environment, base_dir=base_dir, gpu_count=gpu_count, check_paths=check_paths
    )
    return ConfigValidator(rules=[rule_named(name)]).validate(model, ctx)


def paths_of(issues: list[ConfigIssue]) -> list[str]:
    return [issue.path for issue in issues]


def severities_of(issues: list[ConfigIssue]) -> list[str]:
    return [issue.severity for issue in issues]


def make_files(root: Path, *names: str) -> dict[str, str]:
    """Create empty readable files under `root`; returns name -> absolute path."""
    made = {}
    for name in names:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x\n")
        made[name] = str(path)
    return made
