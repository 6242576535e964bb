"""Pure merge of layers: later layers win, tables merge key by key.

A schema leaf is replaced whole even when its value is a table or a list
(`observability.logging.filters`, `partition.model_hints`, `cluster.members`):
a later source that sets it means exactly that value. Inputs are never
changed; the result shares only leaf values with them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from butterfly_config.sources.layer import Layer, Source
from butterfly_config.sources.schema_map import Tree, schema_tree


def merge_layers(
    layers: Iterable[Layer], *, tree: Tree | None = None
) -> tuple[dict[str, Any], dict[str, Source]]:
    """Merge `layers` (lowest precedence first) into one document and its origins.

    `tree` is the schema's key tree (sections are dicts, leaves are strings);
    keys it does not know are merged as tables when both sides are tables.
    """
    schema = schema_tree() if tree is None else tree
    values: dict[str, Any] = {}
    origins: dict[str, Source] = {}
    for layer in layers:
        _merge_into(values, layer.values, schema)
        origins.update(layer.origins)
    return values, origins


def _merge_into(target: dict[str, Any], update: dict[str, Any], tree: Tree | None) -> None:
    """Merge `update` into `target`, which the merge owns (fresh dicts only)."""
    for key, value in update.items():
        node = tree.get(key) if tree is not None else None
        if isinstance(node, str) or not isinstance(value, dict):
            target[key] = value
            continue
        current = target.get(key)
        if not isinstance(current, dict):
            current = {}
            target[key] = current
        _merge_into(current, value, node)
