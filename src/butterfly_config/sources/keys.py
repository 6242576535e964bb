"""Sort a parsed document's keys into known options and unknown keys.

Unknown keys are taken out before validation (so the model never sees them)
and reported by the caller as warnings, or errors under `--strict`.
"""

from __future__ import annotations

import sys
from typing import Any

from .layer import Source
from .schema_map import Tree, schema_tree


def claim_known(document: dict[str, Any], source: Source) -> tuple[dict[str, Source], list[str]]:
    """Remove unknown keys from `document` in place; return known leaf origins and unknown paths.

    A section given a non-table value is kept as is: the model reports its type.
    """
    origins: dict[str, Source] = {}
    unknown: list[str] = []
    _walk(document, schema_tree(), "", source, origins, unknown)
    return origins, unknown


def _walk(
    table: dict[str, Any],
    tree: Tree,
    prefix: str,
    source: Source,
    origins: dict[str, Source],
    unknown: list[str],
) -> None:
    strays: list[str] = []
    for key, value in table.items():
        node = tree.get(key)
        if node is None:
            strays.append(key)
        elif isinstance(node, str):
            origins[node] = source
            if type(value) is str:
                table[key] = sys.intern(value)  # equal strings of many configs share memory
        elif isinstance(value, dict):
            _walk(value, node, f"{prefix}{key}.", source, origins, unknown)
        else:
            origins[prefix + key] = source
    for key in strays:
        del table[key]
        unknown.append(prefix + key)
