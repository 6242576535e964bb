"""Change options in a TOML configuration text, keeping its comments and layout.

For tools that edit a node's file the way an operator would (the benchmarks
and tests of hot reload): tomlkit keeps everything it does not touch. The
writing itself is the caller's choice, in place or by rename as editors do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomlkit


def with_options(text: str, values: Mapping[str, Any]) -> str:
    """`text` with each dotted option set to its value (missing tables are added)."""
    document = tomlkit.parse(text)
    for dotted, value in values.items():
        *parents, leaf = dotted.split(".")
        table: Any = document
        for name in parents:
            if name not in table:
                table[name] = tomlkit.table()
            table = table[name]
        table[leaf] = value
    return tomlkit.dumps(document)


def set_options(path: Path, values: Mapping[str, Any]) -> None:
    """Rewrite the file in place with `values` set."""
    path.write_text(with_options(path.read_text(encoding="utf-8"), values), encoding="utf-8")


def save_by_rename(path: Path, values: Mapping[str, Any]) -> None:
    """What many editors do: write a temporary file beside the original, rename it over."""
    temporary = path.with_name(f".{path.name}.swp")
    temporary.write_text(with_options(path.read_text(encoding="utf-8"), values),
                         encoding="utf-8")
    os.replace(temporary, path)
