"""Reading TOML text: `tomllib.loads`, with nesting too deep for its parser reported
as a TOML error instead of escaping as a `RecursionError` (every caller already
turns TOML errors into a message an operator can act on)."""

from __future__ import annotations

import tomllib
from typing import Any

TOO_DEEP = "values are nested too deeply to read"


def loads(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except RecursionError:
        raise tomllib.TOMLDecodeError(TOO_DEEP) from None


def loads_value(text: str) -> Any:
    """One TOML value written on its own (`4`, `true`, `[0, 1]`, `"x"`, `{a = 1}`)."""
    return loads(f"v = {text}")["v"]


def value_or_text(text: str) -> Any:
    """A command-line value: the TOML value it spells, else the text itself."""
    try:
        return loads_value(text)
    except tomllib.TOMLDecodeError:
        return text
