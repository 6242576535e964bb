"""Find the line of a dotted key in TOML text, only when someone asks.

`tomllib` gives no positions and a position-keeping parser costs on every
load, so the raw text is scanned on demand: table headers set the current
table, `key = value` lines (dotted keys too) complete the path. Good enough
for error messages and `explain`; a miss just means no line number.
"""

from __future__ import annotations

import re

from butterfly_config import input_files

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_NAME = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_NAME}(?:\s*\.\s*{_NAME})*)\s*=")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


def line_index(text: str) -> dict[tuple[str, ...], int]:
    """Every table header and key of `text` -> the 1-based line where it first appears."""
    index: dict[tuple[str, ...], int] = {}
    table: tuple[str, ...] = ()
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            in_string = not in_string
            if not in_string:
                continue
        elif in_string:
            continue
        header = _HEADER.match(line)
        if header is not None:
            table = _parts(header.group(1))
            index.setdefault(table, number)
            continue
        key = _KEY.match(line)
        if key is not None:
            index.setdefault(table + _parts(key.group(1)), number)
    return index


def lookup(index: dict[tuple[str, ...], int], path: str) -> int | None:
    """The line of `path`, else of the nearest enclosing key or table that is in the file."""
    parts = tuple(path.split("."))
    while parts:
        line = index.get(parts)
        if line is not None:
            return line
        parts = parts[:-1]
    return None


def find_line(text: str, path: str) -> int | None:
    """1-based line where `path` is set (or the table or inline table holding it), else None."""
    return lookup(line_index(text), path)


class LineFinder:
    """Finds lines in files by name; reads and indexes each file at most once, on demand."""

    def __init__(self, texts: dict[str, str] | None = None) -> None:
        self._texts: dict[str, str | None] = dict(texts or {})
        self._indexes: dict[str, dict[tuple[str, ...], int]] = {}

    def line(self, file: str, path: str) -> int | None:
        index = self._indexes.get(file)
        if index is None:
            if file not in self._texts:
                try:
                    self._texts[file] = input_files.read_text(file)
                except (OSError, UnicodeDecodeError):
                    self._texts[file] = None
            text = self._texts[file]
            index = self._indexes[file] = {} if text is None else line_index(text)
        return lookup(index, path)
