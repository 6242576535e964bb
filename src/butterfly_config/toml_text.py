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
