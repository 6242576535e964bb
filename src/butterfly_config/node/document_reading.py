"""Reading cluster documents: each cluster option's value, the keys that are no
option, and which options two documents set differently.

A commit asks these questions of the same few documents several times (its
check, its static-option check, its history entry, its application), so a
document is parsed once and its reading kept. A reading is lazy: most
questions name a few options in the one section a commit changed, and are
answered from those, not from a walk over every option. A table that two
documents hold alike holds no change, and no key that the older one lacks: a
document that differs from a head known to be clean is searched for unknown
keys only where it differs.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache, lru_cache
from typing import Any

import orjson

from butterfly_config.canonical import encode
from butterfly_config.schema.registry import options
from butterfly_config.sources.schema_map import Tree, tree_of


@cache
def cluster_paths() -> tuple[str, ...]:
    """Every cluster-scope option, in schema order."""
    return tuple(p for p, info in options().items() if info.scope == "cluster")


@cache
def _defaults() -> dict[str, Any]:
    return {path: options()[path].default for path in cluster_paths()}


@cache
def _keys() -> dict[str, tuple[str, ...]]:
    return {path: tuple(path.split(".")) for path in cluster_paths()}


@cache
def _positions() -> dict[str, int]:
    return {path: index for index, path in enumerate(cluster_paths())}


def is_cluster_option(path: str) -> bool:
    return path in _keys()


@cache
def _cluster_tables() -> Tree:
    """The cluster options as nested tables: a key leads to a table or, at an option,
    to that option's path."""
    return tree_of(cluster_paths())


class Reading:
    """One parsed cluster document. `value` digs one option out; `values` and
    `unknown` read the whole document, once, when first asked."""

    __slots__ = ("_sections", "_unknown", "_values", "clean", "tree")

    def __init__(self, document: bytes) -> None:
        tree = orjson.loads(document)
        if not isinstance(tree, dict):
            raise ValueError("a cluster document must be a JSON object")
        self.tree: dict[str, Any] = tree
        self._sections: dict[str, bytes | None] = {}
        self._values: dict[str, Any] | None = None
        self._unknown: tuple[str, ...] | None = None
        self.clean = False
        """Known to hold no key that is no cluster option (its check found none)."""

    def value(self, path: str) -> Any:
        """The value of cluster option `path` (its default when the document leaves it out)."""
        if self._values is not None:
            return self._values[path]
        node: Any = self.tree
        for name in _keys()[path]:
            if not isinstance(node, dict) or name not in node:
                return _defaults()[path]
            node = node[name]
        return node

    @property
    def values(self) -> dict[str, Any]:
        """{every cluster option: its value}, in schema order (read-only)."""
        if self._values is None:
            self._read()
        assert self._values is not None
        return self._values

    @property
    def unknown(self) -> tuple[str, ...]:
        """The document's keys that are no cluster option."""
        if self._unknown is None:
            self._read()
        assert self._unknown is not None
        return self._unknown

    def section_text(self, name: str) -> bytes | None:
        """The JSON text of a top-level table (None when there is no such table), kept:
        two documents whose texts of a section are equal hold the same values there."""
        if name not in self._sections:
            table = self.tree.get(name)
            self._sections[name] = encode(table) if isinstance(table, dict) else None
        return self._sections[name]

    def is_clean(self) -> bool:
        return self.clean or not self.unknown

    def _read(self) -> None:
        found: dict[str, Any] = {}
        unknown: list[str] = []
        _read_table(self.tree, _cluster_tables(), "", found, unknown)
        values = dict(_defaults())
        values.update(found)  # every found path is a default's key: schema order stays
        self._values, self._unknown = values, tuple(unknown)


def _read_table(table: dict[str, Any], tables: Tree, base: str,
                found: dict[str, Any], unknown: list[str]) -> None:
    for key, value in table.items():
        known = tables.get(key)
        if isinstance(known, str):
            found[known] = value
        elif known is not None and isinstance(value, dict):
            _read_table(value, known, f"{base}{key}.", found, unknown)
        else:
            unknown.append(f"{base}{key}")


@lru_cache(maxsize=16)
def reading(document: bytes) -> Reading:
    """The kept reading of a document; ValueError for bytes that are not a JSON table."""
    return Reading(document)


def cluster_values(document: bytes) -> Mapping[str, Any]:
    """{cluster leaf path: value} of a document; options it leaves out are unset/default.

    The kept reading's own values: read-only. Raises ValueError for bytes that are
    not a JSON table.
    """
    return reading(document).values


def value_of(document: bytes, path: str) -> Any:
    """One cluster option's value in a document (its default when left out)."""
    return reading(document).value(path)


def unknown_paths(document: bytes) -> tuple[str, ...]:
    """Keys of a document that are not cluster-scope options."""
    return reading(document).unknown


def changed_paths(old_document: bytes, new_document: bytes) -> tuple[str, ...]:
    """The cluster options whose values differ between two documents, in schema order.

    Raises ValueError for bytes that are not a JSON table.
    """
    return _comparison(old_document, new_document)[0]


def unknown_paths_beside(head_document: bytes, document: bytes) -> tuple[str, ...]:
    """`unknown_paths(document)`, searched only where it differs from a clean head
    (`reading(head_document).is_clean()`)."""
    assert reading(head_document).is_clean()
    return _comparison(head_document, document)[1]


@lru_cache(maxsize=16)
def _comparison(old_document: bytes, new_document: bytes
                ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the options that differ, in schema order; the new document's unknown keys
    in the tables where it differs from the old one)."""
    old, new = reading(old_document), reading(new_document)
    found: list[str] = []
    unknown: list[str] = []
    tables = _cluster_tables()
    # a section written alike holds the same values: its kept texts say so at once
    alike = frozenset(name for name, known in tables.items() if not isinstance(known, str)
                      and (text := old.section_text(name)) is not None
                      and text == new.section_text(name))
    _differing(old.tree, new.tree, tables, "", found, unknown, alike)
    return tuple(sorted(found, key=_positions().__getitem__)), tuple(unknown)


def _differing(old_table: Any, new_table: Any, tables: Tree, base: str,
               found: list[str], unknown: list[str], alike: frozenset[str] = frozenset()
               ) -> None:
    """Options under `tables` whose values differ, and the new table's unknown keys.
    `old_table`/`new_table` are the documents' tables there (anything else when a
    document has none): where both are tables with the same content, every option
    under them has the same value, and every key is as (un)known in both. `alike`:
    tables known to be the same already."""
    if isinstance(new_table, dict):
        for key, value in new_table.items():
            known = tables.get(key)
            if known is None or (not isinstance(known, str) and not isinstance(value, dict)):
                unknown.append(f"{base}{key}")
    defaults = _defaults()
    for key, known in tables.items():
        if isinstance(known, str):  # the tables in hand hold the values (or leave them out)
            before = (old_table[key] if isinstance(old_table, dict) and key in old_table
                      else defaults[known])
            after = (new_table[key] if isinstance(new_table, dict) and key in new_table
                     else defaults[known])
            if before is not after and not same_value(before, after):
                found.append(known)
            continue
        if key in alike:
            continue
        old_child = old_table.get(key) if isinstance(old_table, dict) else None
        new_child = new_table.get(key) if isinstance(new_table, dict) else None
        if (isinstance(old_child, dict) and isinstance(new_child, dict)
                and (old_child is new_child or same_value(old_child, new_child))):
            continue
        _differing(old_child, new_child, known, f"{base}{key}.", found, unknown)


_SCALARS = frozenset({str, int, float, bool, type(None)})
_SORTED = orjson.OPT_SORT_KEYS


def same_value(a: Any, b: Any) -> bool:
    """Equal and of the same JSON types all the way down (1 is not 1.0, nor True).

    For the values of cluster documents, which hold no NaN (JSON has none, and
    the schema refuses it): one NaN object shared by both sides would count as
    the same here, as Python's own container comparison counts it.
    """
    kind = type(a)
    if kind is not type(b):
        return False
    if kind in _SCALARS:
        return bool(a == b)
    if kind is dict or kind is list:
        # most tables compared are equal: Python's own comparison says so at C speed,
        # and equal JSON encodings show the types match too (1 is "1", 1.0 "1.0");
        # anything else (a type that differs, -0.0, a model inside) is walked below
        if a != b:
            return False
        try:
            if orjson.dumps(a, option=_SORTED) == orjson.dumps(b, option=_SORTED):
                return True
        except TypeError:
            pass
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_value(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(map(same_value, a, b))
    return bool(a == b)
