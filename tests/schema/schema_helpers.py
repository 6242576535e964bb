"""Helpers for the schema tests: flatten documents, edit nested values."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

from butterfly_config.schema.registry import option_info


def leaves(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(dotted path, value) of every leaf; free-form tables of the schema count as leaves."""
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and option_info(path) is None:
            yield from leaves(value, f"{path}.")
        else:
            yield path, value


def with_value(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `document` with `path` set to `value` (tables created as needed)."""
    out = copy.deepcopy(document)
    node = out
    *parents, last = path.split(".")
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
    return out
