"""Find the line of a dotted key in TOML text, only when someone asks.

`tomllib` gives no positions and a position-keeping parser costs on every
load, so the raw text is scanned on demand: table headers set the current
table, `key = value` lines (dotted keys too) complete the path. Good enough
for error messages and `explain`; a miss just means no line number.
"""

from __future__ import annotations

import re
from pathlib import Path

_HEADER = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(?:#.*)?$")
_NAME = r"""(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')"""
_KEY = re.compile(rf"^\s*({_NAME}(?:\s*\.\s*{_NAME})*)\s*=")
_PART = re.compile(r"""[A-Za-z0-9_-]+|"[^"]*"|'[^']*'""")


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(p.strip("\"'") for p in _PART.findall(dotted))


def find_line(text: str, path: str) -> int | None:
    """1-based line where `path` is set (or its table starts), else None."""
    target = tuple(path.split("."))
    table: tuple[str, ...] = ()
    fallback: int | None = None
    in_string = False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
            was_in_string = in_string
            in_string = not in_string
            if was_in_string:
                continue
        elif in_string:
            continue
        header = _HEADER.match(line)
        if header is not None:
            table = _parts(header.group(1))
            if table == target:
                return number
            continue
        key = _KEY.match(line)
        if key is None:
            continue
        full = table + _parts(key.group(1))
        if full == target:
            return number
        if fallback is None and len(full) < len(target) and target[: len(full)] == full:
            fallback = number  # the value is an inline table holding the key
    return fallback


class LineFinder:
    """Finds lines in files by name; reads each file at most once, and only on demand."""

    def __init__(self, texts: dict[str, str] | None = None) -> None:
        self._texts: dict[str, str | None] = dict(texts or {})

    def line(self, file: str, path: str) -> int | None:
        if file not in self._texts:
            try:
                self._texts[file] = Path(file).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                self._texts[file] = None
        text = self._texts[file]
        return None if text is None else find_line(text, path)
