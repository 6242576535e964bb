"""Applies migration steps to a plain document (nested dicts), producing a report.

Pure: no files, no printing. Every input leaf is either moved (possibly to
several leaves, possibly converted), copied because it already is an option of
the target layout, or reported as unmapped with a reason; a converter that
refuses a value turns the key into an unmapped one instead of failing the
whole migration.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from butterfly_config.migrations.report import AddedKey, MappedKey, MigrationReport, UnmappedKey
from butterfly_config.migrations.rules import MigrationStep, Move, Unmapped

Document = dict[str, Any]


def iter_leaves(
    document: Mapping[str, Any], keeps: Callable[[str], bool] | None = None, prefix: str = ""
) -> Iterator[tuple[str, Any]]:
    """(dotted path, value) for every leaf; `keeps(path)` marks tables that are leaves."""
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, Mapping) and not (keeps is not None and keeps(path)):
            yield from iter_leaves(value, keeps, path + ".")
        else:
            yield path, value


def nest(flat: Mapping[str, Any]) -> Document:
    """{"a.b": 1} -> {"a": {"b": 1}}; callers guarantee no path is a prefix of another."""
    root: Document = {}
    for path, value in flat.items():
        *sections, leaf = path.split(".")
        table = root
        for name in sections:
            table = table.setdefault(name, {})
        table[leaf] = value
    return root


class _Targets:
    """The flat output of one step; refuses a second value for a path, or a leaf under a leaf."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}
        self.owner: dict[str, str] = {}

    def clash(self, path: str) -> str | None:
        """The input key that already claimed `path` (or a path overlapping it), if any."""
        for taken, owner in self.owner.items():
            if taken == path or taken.startswith(path + ".") or path.startswith(taken + "."):
                return owner
        return None

    def claim(self, path: str, value: Any, owner: str) -> None:
        self.values[path] = value
        self.owner[path] = owner


def _move(rule: Move, value: Any) -> list[tuple[str, Any]]:
    converted = rule.convert(value) if rule.convert is not None else value
    if not rule.expand:
        return [(rule.target, converted)]
    if not isinstance(converted, Mapping):
        raise ValueError(f"converter of {rule.source} must return a table")
    return [(f"{rule.target}.{key}", item) for key, item in converted.items()]


def apply_step(
    document: Mapping[str, Any], step: MigrationStep
) -> tuple[Document, MigrationReport]:
    """Run one step over `document`; the result is a new nested document and its report."""
    report = MigrationReport(step.from_version, step.to_version, steps=[step.title])
    targets = _Targets()
    assigned = {a.path: a for a in step.assignments}

    def unmapped(path: str, value: Any, reason: str, hint: str = "") -> None:
        report.unmapped.append(UnmappedKey(path, value, reason, hint))

    def place(path: str, value: Any, pairs: list[tuple[str, Any]], note: str) -> None:
        for target, _ in pairs:
            owner = targets.clash(target) or (target if target in assigned else None)
            if owner is not None:
                unmapped(path, value, f"{target} is already set (from {owner})",
                         "keep only one of the two keys in the input")
                return
        for target, new_value in pairs:
            targets.claim(target, new_value, path)
        report.mapped.append(MappedKey(path, value, tuple(pairs), note))

    for path, value in iter_leaves(document, step.keeps):
        rule = step.rule_for(path)
        if isinstance(rule, Move):
            try:
                pairs = _move(rule, value)
            except ValueError as exc:
                unmapped(path, value, f"cannot be converted to {rule.target}: {exc}",
                         f"set {rule.target} by hand")
                continue
            place(path, value, pairs, rule.note_for(value))
        elif isinstance(rule, Unmapped):
            unmapped(path, value, rule.reason, rule.hint_for(value))
        elif path in assigned:
            a = assigned[path]
            unmapped(path, value, f"superseded: the migration writes {path} = {a.value!r}", a.note)
        elif step.keeps(path):
            place(path, value, [(path, value)], f"already a {step.to_version} option, kept")
        else:
            suggestion = step.suggest(path)
            unmapped(
                path,
                value,
                f"not a key of the {step.from_version} layout nor an option of {step.to_version}",
                f"did you mean {suggestion}?" if suggestion else "remove it, or set the option "
                "that replaces it by hand",
            )

    for assignment in step.assignments:
        targets.claim(assignment.path, assignment.value, "migration")
        report.added.append(AddedKey(assignment.path, assignment.value, assignment.note))
    return nest(targets.values), report


def apply_steps(
    document: Mapping[str, Any], steps: Sequence[MigrationStep]
) -> tuple[Document, MigrationReport]:
    """Chain steps; the combined report lists each step's changes in order."""
    if not steps:
        raise ValueError("a migration needs at least one step")
    current: Mapping[str, Any] = document
    combined = MigrationReport(steps[0].from_version, steps[-1].to_version)
    for step in steps:
        current, report = apply_step(current, step)
        combined.steps += report.steps
        combined.mapped += report.mapped
        combined.unmapped += report.unmapped
        combined.added += report.added
    return dict(current), combined
