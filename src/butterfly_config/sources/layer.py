"""What every source returns: values plus where each value came from.

A `Layer` is deliberately plain data (nested dict + per-leaf `Source`), so the
merge can stay a pure function and precedence is just the order of a list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from butterfly_config.errors import ConfigIssue

SourceKind = Literal["default", "include", "file", "env", "cli", "runtime", "generated"]


@dataclass(frozen=True, slots=True)
class Source:
    """Where one effective value came from.

    `name` is the file, variable, flag or revision; `chain` is the include
    chain for included files (top file first, this file last) or the env file
    a variable was read from; `line` is filled in only when someone asks.
    """

    kind: SourceKind
    name: str
    chain: tuple[str, ...] = ()
    line: int | None = None

    def describe(self) -> str:
        """One human-readable phrase, e.g. `file main.toml:12` or `env BUTTERFLY_X`."""
        where = self.name if self.line is None else f"{self.name}:{self.line}"
        if self.kind == "include" and len(self.chain) > 1:
            return f"include {where} (via {' -> '.join(self.chain)})"
        if self.kind == "env" and self.chain:
            return f"env {self.name} (from {self.chain[0]})"
        if self.kind == "default":
            return "default"
        return f"{self.kind} {where}"


DEFAULT_SOURCE = Source("default", "defaults")


@dataclass(slots=True)
class Layer:
    """Values of one source (nested by section), their origins by leaf path, and its issues."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[str, Source] = field(default_factory=dict)
    issues: list[ConfigIssue] = field(default_factory=list)


def set_path(values: dict[str, Any], path: str, value: Any) -> None:
    """Put `value` at dotted `path` in a nested dict, creating tables on the way."""
    *parents, leaf = path.split(".")
    node = values
    for name in parents:
        node = node.setdefault(name, {})
    node[leaf] = value


def get_path(values: dict[str, Any], path: str) -> Any:
    """The value at dotted `path` of a nested dict; KeyError when absent."""
    node: Any = values
    for name in path.split("."):
        if not isinstance(node, dict):
            raise KeyError(path)
        node = node[name]
    return node
