"""Reading the small TOML files of the security layer with file:line errors.

`tomllib` reports syntax errors with a line in its message but keeps no
positions for values, so `find_line` scans the text for the table header or
key an issue is about.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

from butterfly_config import input_files, toml_text
from butterfly_config.errors import ConfigError, ConfigIOError, ConfigIssue

_AT_LINE = re.compile(r"\(at line (\d+), column (\d+)\)")
_AT_END = "(at end of document)"
_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]\s*(#.*)?$")
_KEY = re.compile(r"^\s*([A-Za-z0-9_\-\"'.]+?)\s*=")


def read_toml(path: Path, what: str) -> tuple[dict[str, Any], str]:
    """The parsed document and its text; I/O and syntax errors name the file."""
    try:
        text = input_files.read_text(path)
    except FileNotFoundError as exc:
        raise ConfigIOError(f"{path}: {what} not found") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigIOError(f"{path}: cannot read {what}: {exc}") from exc
    try:
        return toml_text.loads(text), text
    except tomllib.TOMLDecodeError as exc:
        found = _AT_LINE.search(str(exc))
        line = int(found.group(1)) if found else None
        column = int(found.group(2)) if found else None
        if found is None and _AT_END in str(exc):
            line = max(1, len(text.splitlines()))
        reason = _AT_LINE.sub("", str(exc)).replace(_AT_END, "").strip()
        message = f"{what} is not valid TOML: {reason}"
        issue = ConfigIssue(
            path="",
            message=message,
            hint="fix the TOML syntax",
            rule="toml-syntax",
            file=str(path),
            line=line,
            column=column,
        )
        raise ConfigError(message, [issue]) from exc


def _normalize(dotted: str) -> tuple[str, ...]:
    return tuple(part.strip().strip("\"'") for part in dotted.split("."))


def find_line(text: str, table: tuple[str, ...], key: str | None = None) -> int | None:
    """1-based line of `key` inside `[table]` (or of the header when `key` is None)."""
    current: tuple[str, ...] = ()
    header_line: int | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        header = _HEADER.match(line)
        if header:
            current = _normalize(header.group(1))
            if current == table:
                header_line = number
                if key is None:
                    return number
            continue
        found = _KEY.match(line)
        if found and key is not None and current == table and _normalize(found.group(1)) == (key,):
            return number
    return header_line
