"""What a migration did to every key: moved, added, or left out with a reason.

The report is the operator's audit of a migration: `--dry-run` prints it, the
written file carries its unmapped part as comments, and tests use it to prove
that no input key was silently dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import tomlkit


def toml_value(value: Any) -> str:
    """A value as it would be written inline in TOML (`"zstd"`, `true`, `{ a = 1 }`)."""
    if isinstance(value, Mapping):
        table = tomlkit.inline_table()
        table.update(value)
        return str(table.as_string())
    if isinstance(value, list) and any(isinstance(v, Mapping) for v in value):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return str(tomlkit.item(value).as_string())


@dataclass(frozen=True, slots=True)
class MappedKey:
    """An input leaf carried to one or more leaves of the new layout."""

    source: str
    old_value: Any
    targets: tuple[tuple[str, Any], ...]
    note: str = ""

    def render(self) -> str:
        new = ", ".join(f"{path} = {toml_value(value)}" for path, value in self.targets)
        text = f"{self.source} = {toml_value(self.old_value)} -> {new}"
        return text + (f"  ({self.note})" if self.note else "")


@dataclass(frozen=True, slots=True)
class UnmappedKey:
    """An input leaf that was not carried over, with the reason and what to do instead."""

    source: str
    value: Any
    reason: str
    hint: str = ""

    def render(self) -> str:
        text = f"{self.source} = {toml_value(self.value)}: {self.reason}"
        return text + (f"\n    hint: {self.hint}" if self.hint else "")


@dataclass(frozen=True, slots=True)
class AddedKey:
    """A value the migration writes that no input key provided."""

    path: str
    value: Any
    note: str = ""

    def render(self) -> str:
        text = f"{self.path} = {toml_value(self.value)}"
        return text + (f"  ({self.note})" if self.note else "")


@dataclass
class MigrationReport:
    """Every input leaf ends up in exactly one of `mapped` or `unmapped`."""

    from_version: str
    to_version: str
    steps: list[str] = field(default_factory=list)
    mapped: list[MappedKey] = field(default_factory=list)
    unmapped: list[UnmappedKey] = field(default_factory=list)
    added: list[AddedKey] = field(default_factory=list)

    @property
    def accounted_sources(self) -> set[str]:
        return {m.source for m in self.mapped} | {u.source for u in self.unmapped}

    def render(self) -> str:
        """The human-readable account printed by `config migrate`."""
        lines = [f"migration {self.from_version} -> {self.to_version}"]
        lines += [f"  step: {title}" for title in self.steps]
        lines.append(f"mapped ({len(self.mapped)}):")
        lines += [f"  {m.render()}" for m in self.mapped]
        if self.added:
            lines.append(f"added ({len(self.added)}):")
            lines += [f"  {a.render()}" for a in self.added]
        if self.unmapped:
            lines.append(f"unmapped ({len(self.unmapped)}), not carried over, review them:")
            lines += [f"  {u.render()}" for u in self.unmapped]
        else:
            lines.append("unmapped: none")
        return "\n".join(lines)
