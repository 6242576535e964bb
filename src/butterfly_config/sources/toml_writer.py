"""A nested, JSON-compatible configuration dict written as TOML.

Hand-built rather than through tomlkit: the output only has to be valid and
load back to the same values, and this stays cheap to import. Tables whose
names are schema sections become `[section]` headers, arrays of tables become
`[[...]]`, everything else is written inline.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from typing import Any

_BARE = re.compile(r"^[A-Za-z0-9_-]+$")


def _string(text: str) -> str:
    """A TOML basic string. JSON's escapes are TOML's, except that DEL must be escaped too."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def key(name: str) -> str:
    """A TOML key: bare when it can be, quoted otherwise."""
    return name if _BARE.fullmatch(name) else _string(name)


def value(item: Any) -> str:
    """One inline TOML value."""
    if isinstance(item, bool):
        return "true" if item else "false"
    if isinstance(item, int):
        return str(item)
    if isinstance(item, float):
        if math.isnan(item):
            return "nan"
        if math.isinf(item):
            return "inf" if item > 0 else "-inf"
        return repr(item)
    if isinstance(item, str):
        return _string(item)
    if isinstance(item, dict):
        inner = ", ".join(f"{key(k)} = {value(v)}" for k, v in item.items() if v is not None)
        return "{ " + inner + " }" if inner else "{}"
    if isinstance(item, (list, tuple)):
        return "[" + ", ".join(value(v) for v in item) + "]"
    raise TypeError(f"cannot write {type(item).__name__} as TOML")


def _is_table_array(item: Any) -> bool:
    return isinstance(item, (list, tuple)) and bool(item) and all(isinstance(v, dict) for v in item)


Annotate = Callable[[str], "str | None"]
"""Dotted path -> a comment for its line (e.g. where the value came from), or None."""


def _line(text: str, path: str, annotate: Annotate | None) -> str:
    note = annotate(path) if annotate is not None else None
    return f"{text}  # {note}" if note else text


def _emit(table: dict[str, Any], header: str, path: str, out: list[str],
          annotate: Annotate | None) -> None:
    scalars = [(k, v) for k, v in table.items()
               if v is not None and not isinstance(v, dict) and not _is_table_array(v)]
    if header and (scalars or not table):
        out.append("\n" + _line(f"[{header}]", path, annotate))
    for name, item in scalars:
        out.append(_line(f"{key(name)} = {value(item)}", _join(path, name), annotate))
    for name, item in table.items():
        sub_header = f"{header}.{key(name)}" if header else key(name)
        sub_path = _join(path, name)
        if isinstance(item, dict):
            _emit(item, sub_header, sub_path, out, annotate)
        elif _is_table_array(item):
            for entry in item:
                out.append("\n" + _line(f"[[{sub_header}]]", sub_path, annotate))
                out.extend(f"{key(k)} = {value(v)}" for k, v in entry.items() if v is not None)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def to_toml(document: dict[str, Any], annotate: Annotate | None = None) -> str:
    """`document` as TOML text (loads back equal with tomllib); `annotate` adds comments."""
    out: list[str] = []
    _emit(document, "", "", out, annotate)
    return "\n".join(out).lstrip("\n") + "\n"
