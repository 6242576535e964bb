"""The declarative vocabulary of a migration step.

A step is a table of rules keyed by the old dotted path: `Move` carries a value
to its new path (optionally converting it), `Unmapped` says why a key of the old
layout has no place in the new one. Keeping steps as data, not code, lets a test
check every target against the schema and lets the report say exactly what
happened to each key.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Converter = Callable[[Any], Any]
"""Old value -> new value. Raises ValueError when the value cannot be carried over."""

Explainer = Callable[[Any], str]
"""Old value -> a hint that depends on it (e.g. the f a quorum size implies)."""


@dataclass(frozen=True, slots=True)
class Move:
    """`source` -> `target`, value passed through `convert`.

    With `expand=True` the converter returns a table and each of its keys becomes
    the leaf `target.<key>` (a string that became a section, for instance).
    `note` is printed next to the change, so unit decisions are never implicit.
    """

    source: str
    target: str
    convert: Converter | None = None
    note: str | Explainer = ""
    expand: bool = False

    def note_for(self, value: Any) -> str:
        return self.note(value) if callable(self.note) else self.note


@dataclass(frozen=True, slots=True)
class Unmapped:
    """`source` (a leaf, or a whole section) has no equivalent: say why, and what to do."""

    source: str
    reason: str
    hint: str | Explainer = ""

    def hint_for(self, value: Any) -> str:
        return self.hint(value) if callable(self.hint) else self.hint


Rule = Move | Unmapped


@dataclass(frozen=True, slots=True)
class Assignment:
    """A value a step always writes (e.g. the new `metadata.config_version`)."""

    path: str
    value: Any
    note: str = ""


@dataclass(frozen=True, slots=True)
class MigrationStep:
    """One hop between two layouts: rules for old keys, values it always sets.

    `keeps(path)` says whether a key the table does not mention is already an
    option of the target layout (a partly migrated file); such keys are copied
    unchanged. Every other key is reported as unmapped.
    """

    from_version: str
    to_version: str
    title: str
    rules: tuple[Rule, ...]
    assignments: tuple[Assignment, ...] = ()
    keeps: Callable[[str], bool] = field(default=lambda _path: False)
    suggest: Callable[[str], str | None] = field(default=lambda _path: None)

    def rule_for(self, path: str) -> Rule | None:
        """The rule for the leaf `path`: an exact `Move`, else the most specific `Unmapped`.

        An `Unmapped` rule may name a whole section; a `Move` names one leaf only.
        """
        best: Rule | None = None
        for rule in self.rules:
            if path == rule.source:
                return rule
            if (
                isinstance(rule, Unmapped)
                and path.startswith(rule.source + ".")
                and (best is None or len(rule.source) > len(best.source))
            ):
                best = rule
        return best


def lookup_table(mapping: Mapping[str, Any], what: str) -> Converter:
    """A converter for enumerations that were renamed: unknown values are refused."""

    def convert(value: Any) -> Any:
        if not isinstance(value, str) or value not in mapping:
            known = ", ".join(f'"{k}"' for k in mapping)
            raise ValueError(f"{what} {value!r} has no equivalent (known: {known})")
        return mapping[value]

    return convert
