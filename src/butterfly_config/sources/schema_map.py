"""The registry seen from the loader's side: a key tree, value kinds, env names.

Everything here is derived once from `schema.registry` and cached, so the load
path only does dictionary look-ups. The path strings stored in the tree are
the registry's own objects: configurations then share them instead of each
holding its own copies.
"""

from __future__ import annotations

import re
import types
import typing
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, Union

from pydantic import BaseModel

from butterfly_config.schema import registry

KindName = Literal["bool", "int", "float", "str", "list", "table", "any"]
Tree = dict[str, "Tree | str"]
"""Section name -> subtree; a leaf maps to its dotted path."""


@dataclass(frozen=True, slots=True)
class ValueKind:
    """How text for an option is read: base kind, list item kind, whether None is allowed."""

    name: KindName
    item: ValueKind | None = None
    optional: bool = False

    def describe(self) -> str:
        if self.name == "list" and self.item is not None:
            return f"a list of {self.item.describe()}"
        return {
            "bool": "a boolean (true/false)",
            "int": "an integer",
            "float": "a number",
            "str": "a string",
            "list": "a list",
            "table": "a table",
            "any": "a value",
        }[self.name]


_SCALARS: dict[type, KindName] = {bool: "bool", int: "int", float: "float", str: "str"}


def kind_of(annotation: Any) -> ValueKind:
    """The `ValueKind` of a field annotation (Annotated, Optional, Literal, tuple, dict)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return kind_of(args[0])
    if origin is Union or origin is types.UnionType:
        rest = [a for a in args if a is not type(None)]
        inner = kind_of(rest[0]) if len(rest) == 1 else ValueKind("any")
        return ValueKind(inner.name, inner.item, optional=True)
    if origin is Literal:
        first = type(args[0]) if args else str
        return ValueKind(_SCALARS.get(first, "str"))
    if origin in (tuple, list, set, frozenset):
        return ValueKind("list", kind_of(args[0]) if args else ValueKind("any"))
    if origin is dict or annotation is dict:
        return ValueKind("table")
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return ValueKind("table")
        if annotation in _SCALARS:
            return ValueKind(_SCALARS[annotation])
    return ValueKind("any")


@cache
def schema_tree() -> Tree:
    """Every section and leaf as a nested dict; leaves hold their registry path string."""
    return tree_of(registry.options())


def tree_of(paths: typing.Iterable[str]) -> Tree:
    """Leaf paths as nested tables, each leaf holding its path (in the order given)."""
    tree: Tree = {}
    for path in paths:
        node = tree
        *parents, leaf = path.split(".")
        for name in parents:
            child = node.setdefault(name, {})
            assert isinstance(child, dict), f"{path} is inside the leaf {name}"
            node = child
        node[leaf] = path
    return tree


@cache
def leaf_kinds() -> dict[str, ValueKind]:
    return {path: kind_of(info.annotation) for path, info in registry.options().items()}


def leaf_kind(path: str) -> ValueKind | None:
    return leaf_kinds().get(path)


@cache
def leaf_paths() -> frozenset[str]:
    return frozenset(registry.options())


_UNDERSCORES = re.compile(r"_+")


def env_key(path_or_name: str) -> str:
    """The form env names are matched in: dots and runs of `_` become one `_`, upper case."""
    return _UNDERSCORES.sub("_", path_or_name.replace(".", "_")).upper()


@cache
def env_index() -> dict[str, str]:
    """Env key (without prefix) -> leaf path. `env_collisions()` proves it is one-to-one."""
    return {env_key(path): path for path in registry.options()}


def env_collisions() -> dict[str, list[str]]:
    """Env keys that more than one schema path would map to (must be empty)."""
    seen: dict[str, list[str]] = {}
    for path in registry.options():
        seen.setdefault(env_key(path), []).append(path)
    return {key: paths for key, paths in seen.items() if len(paths) > 1}


def env_name(path: str, prefix: str = "BUTTERFLY_") -> str:
    """The canonical variable for a leaf, e.g. BUTTERFLY_NETWORK_CONNECTION_MAX_CONNECTIONS."""
    return prefix + path.replace(".", "_").upper()
