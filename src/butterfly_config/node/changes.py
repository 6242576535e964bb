"""Turning an API request into a plan: which options change, and how.

A request (PATCH operations or a full document) becomes a map of leaf paths to
new values, compared against the current configuration so that re-sending an
unchanged value is not a change. Each changed path is then sorted by category:
static options refuse the request ("requires restart"), dynamic-local ones
apply on this node only, dynamic-consensus ones go through the protocol.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from butterfly_config.errors import ConfigIssue
from butterfly_config.node.service import PatchOperation
from butterfly_config.schema.registry import options, suggest

if TYPE_CHECKING:
    from butterfly_config.config import ButterflyConfig

NOT_A_CHANGE: Any = object()


@dataclass(frozen=True)
class ChangePlan:
    """Leaf paths to new values, split by where they apply."""

    static: dict[str, Any] = field(default_factory=dict)
    local: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.static or self.local or self.cluster)

    @property
    def all_values(self) -> dict[str, Any]:
        return {**self.static, **self.local, **self.cluster}


def _leaves_under(prefix: str) -> list[str]:
    dotted = prefix + "."
    return [p for p in options() if p.startswith(dotted)]


def _unknown(path: str) -> ConfigIssue:
    guess = suggest(path)
    return ConfigIssue(
        path=path,
        message=f"unknown option {path!r}",
        hint=f"did you mean {guess}?" if guess else "see docs/reference.md for every option",
        rule="unknown-key",
    )


def flatten(
    document: Mapping[str, Any], prefix: str = "", issues: list[ConfigIssue] | None = None
) -> dict[str, Any]:
    """A nested document as {leaf path: value}; unknown keys are added to `issues`."""
    known = options()
    out: dict[str, Any] = {}
    found = issues if issues is not None else []

    def walk(node: Mapping[str, Any], base: str) -> None:
        for key, value in node.items():
            path = f"{base}.{key}" if base else str(key)
            if path in known:
                out[path] = value
            elif isinstance(value, Mapping) and _leaves_under(path):
                walk(value, path)
            else:
                found.append(_unknown(path))

    walk(document, prefix)
    return out


def _default_of(path: str) -> Any:
    return options()[path].default


def requested_values(
    ops: Iterable[PatchOperation], current: ButterflyConfig
) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """Apply PATCH operations to leaf paths: set, delete (back to default), merge.

    Returns the values and the problems found; the caller decides the order in
    which to report them (a static change is refused before anything else).
    """
    known = options()
    values: dict[str, Any] = {}
    issues: list[ConfigIssue] = []
    for op in ops:
        path = op.path.strip(".")
        leaves = _leaves_under(path)
        if path not in known and not leaves:
            issues.append(_unknown(path))
            continue
        if op.op == "delete":
            for leaf in [path] if path in known else leaves:
                values[leaf] = _default_of(leaf)
        elif op.op == "set":
            if path in known:
                values[path] = op.value
            elif isinstance(op.value, Mapping):
                given = flatten(op.value, path, issues)
                for leaf in leaves:
                    values[leaf] = given.get(leaf, _default_of(leaf))
            else:
                issues.append(
                    ConfigIssue(path, f"{path} is a table; set it to a table of options",
                                rule="patch-shape")
                )
        else:  # merge
            if not isinstance(op.value, Mapping):
                issues.append(
                    ConfigIssue(path, "merge needs a table value", rule="patch-shape")
                )
            elif path in known:
                existing = current.get_value(path)
                if not isinstance(existing, Mapping):
                    issues.append(
                        ConfigIssue(path, f"{path} is not a table; use set", rule="patch-shape")
                    )
                else:
                    values[path] = {**existing, **op.value}
            else:
                values.update(flatten(op.value, path, issues))
    return values, issues


def _normalize(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_normalize(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _normalize(v) for k, v in value.items()}
    if hasattr(value, "model_dump"):
        return _normalize(value.model_dump(mode="json"))
    return value


def plan(values: Mapping[str, Any], current: ButterflyConfig) -> ChangePlan:
    """Drop no-op values and sort the rest by category."""
    known = options()
    result = ChangePlan()
    for path, value in values.items():
        if _normalize(current.get_value(path)) == _normalize(value):
            continue
        info = known[path]
        if info.mutability == "static":
            result.static[path] = value
        elif info.scope == "node":
            result.local[path] = value
        else:
            result.cluster[path] = value
    return result


def document_values(document: Mapping[str, Any]) -> tuple[dict[str, Any], list[ConfigIssue]]:
    """A full cluster document: cluster options it omits go back to their defaults."""
    issues: list[ConfigIssue] = []
    given = flatten({k: v for k, v in document.items() if k != "include"}, "", issues)
    values: dict[str, Any] = {}
    for path, info in options().items():
        if path.startswith("include."):
            continue
        if path in given:
            values[path] = given[path]
        elif info.scope == "cluster":
            values[path] = info.default
    return values, issues
