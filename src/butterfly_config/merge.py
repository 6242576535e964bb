"""Pure merge of layers: later layers win, tables merge key by key.

A schema leaf is replaced whole even when its value is a table or a list
(`observability.logging.filters`, `partition.model_hints`, `cluster.members`):
a later source that sets it means exactly that value.

Inputs are never changed. The result is built copy-on-write: a table that
only one layer touches is shared with that layer, so merging a large file with
a few environment variables copies only the tables the variables reach. Treat
the result (like the layers) as read-only, or copy a table before changing it.
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
    owned: set[int] = set()
    origins: dict[str, Source] = {}
    for layer in layers:
        if layer.values:
            values = _merged(values, layer.values, schema, owned)
        origins.update(layer.origins)
    return values, origins


def _merged(base: dict[str, Any], update: dict[str, Any], tree: Tree | None,
            owned: set[int]) -> dict[str, Any]:
    """`base` with `update` merged in; copies `base` first unless this merge made it."""
    if not base:
        return update
    if id(base) not in owned:
        base = dict(base)
        owned.add(id(base))
    for key, value in update.items():
        node = tree.get(key) if tree is not None else None
        current = base.get(key)
        if isinstance(node, str) or not isinstance(value, dict) or not isinstance(current, dict):
            base[key] = value
        else:
            base[key] = _merged(current, value, node, owned)
    return base
