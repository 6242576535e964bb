"""The cluster document: what consensus agrees on, and how a node checks and applies it.

The agreed document is the canonical encoding of the cluster-scope options
only (`canonical.canonical_bytes(model, cluster_only=True)`), so its BLAKE3 is
the `cluster_hash`. A node's effective configuration is its own file-level
configuration with the committed cluster options laid over it, then its
dynamic-local runtime changes.

Checking a proposal has two parts with different meanings for the protocol:
- `check_cluster_document` is deterministic (the document against default
  node options, no filesystem, no GPUs): every honest member finds the same
  errors, so a member that claims otherwise is lying. That is `invalid`.
- whether it fits *this* node (its own node options, its subscribers) is a
  local judgement others cannot reproduce. That is a `veto`.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

import orjson

from butterfly_config.canonical import canonical_bytes, digest
from butterfly_config.config import ButterflyConfig, LoadSettings
from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.schema.registry import options
from butterfly_config.schema.root import ConfigModel

MAX_REASON_CHARS = 600


@cache
def cluster_paths() -> tuple[str, ...]:
    return tuple(p for p, info in options().items() if info.scope == "cluster")


@cache
def static_cluster_paths() -> frozenset[str]:
    return frozenset(
        p
        for p, info in options().items()
        if info.scope == "cluster" and info.mutability == "static"
    )


def document_of(config: ButterflyConfig) -> bytes:
    """The cluster document of a configuration (what consensus agrees on)."""
    return config.cluster_document()


def document_hash(document: bytes) -> str:
    return digest(document)


@cache
def _defaults() -> dict[str, Any]:
    """{cluster option: its default}, in schema order."""
    return {path: options()[path].default for path in cluster_paths()}


_Tables = dict[str, "_Tables | str"]
"""The cluster options as nested tables: a key leads to a table or, at an
option, to that option's path."""


@cache
def _cluster_tables() -> _Tables:
    root: _Tables = {}
    for path in cluster_paths():
        *tables, name = path.split(".")
        node = root
        for key in tables:
            child = node.setdefault(key, {})
            assert isinstance(child, dict), f"{path} is inside the option {key}"
            node = child
        node[name] = path
    return root


@cache
def _schema_positions() -> dict[str, int]:
    return {path: index for index, path in enumerate(cluster_paths())}


class _Reading:
    """A cluster document read once: its tree, the value of every cluster option
    (defaults for those it leaves out) and its keys that are no cluster option."""

    __slots__ = ("tree", "unknown", "values")

    def __init__(self, document: bytes) -> None:
        tree = orjson.loads(document)
        if not isinstance(tree, dict):
            raise ValueError("a cluster document must be a JSON object")
        found: dict[str, Any] = {}
        unknown: list[str] = []
        _read_table(tree, _cluster_tables(), "", found, unknown)
        values = dict(_defaults())
        values.update(found)  # every found path is a default's key: schema order stays
        self.tree: dict[str, Any] = tree
        self.values = values
        self.unknown = tuple(unknown)


def _read_table(table: dict[str, Any], tables: _Tables, base: str,
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
def _reading(document: bytes) -> _Reading:
    """Cached: a commit asks about the same few documents several times (its
    check, its static-option check, its history entry, its application)."""
    return _Reading(document)


def cluster_values(document: bytes) -> dict[str, Any]:
    """{cluster leaf path: value} of a document; options it leaves out are unset/default.

    A fresh dict each call (callers add their own values to it).
    Raises ValueError for bytes that are not a JSON table.
    """
    return dict(_reading(document).values)


def _cluster_values(document: bytes) -> dict[str, Any]:
    """`cluster_values` without the copy, for readers that do not change it."""
    return _reading(document).values


def _unknown_paths(document: bytes) -> tuple[str, ...]:
    """Keys of a document that are not cluster-scope options."""
    return _reading(document).unknown


@cache
def _neutral_base() -> ButterflyConfig:
    """Default node options, checked without filesystem or GPU look-ups: the same on every node."""
    return ButterflyConfig(ConfigModel(), settings=LoadSettings(check_paths=False, gpu_count=0))


def _summary(issues: list[ConfigIssue]) -> str:
    errors = [i for i in issues if i.severity == "error"]
    text = "; ".join(f"{i.path}: {i.message}" if i.path else i.message for i in errors)
    return text[:MAX_REASON_CHARS] or "invalid configuration"


@lru_cache(maxsize=64)
def check_cluster_document(document: bytes, head_document: bytes | None) -> str | None:
    """Deterministic check of a proposed cluster document; the reason it is invalid, or None.

    Pure, so its results are cached: the coordinator checks a document when the
    client asks, again as the replica's validation callback, and members check
    the same bytes once each.
    """
    try:
        proposed = cluster_values(document)
    except ValueError as exc:
        return f"not a cluster document: {exc}"
    unknown = _unknown_paths(document)
    if unknown:
        return f"not cluster-scope options: {', '.join(sorted(unknown)[:10])}"
    if head_document is not None:
        try:
            changed: Iterable[str] = changed_paths(head_document, document)
            head = _cluster_values(head_document)
        except ValueError:
            changed, head = cluster_paths(), {}
        # values that differ (1 is not 1.0) but encode alike are the same option value
        statics = static_cluster_paths()
        static = sorted(p for p in changed
                        if p in statics and _jsonish(head.get(p)) != _jsonish(proposed[p]))
        if static:
            return f"static options changed (requires restart): {', '.join(static)}"
    base, values = _neutral_start(head_document, document, proposed)
    try:
        candidate = base.with_values(values)
    except ConfigError as exc:
        return _summary(exc.errors)
    if canonical_bytes(candidate.model, cluster_only=True) != document:
        return "the document is not in canonical form"
    _remember_neutral(document, candidate)
    return None


# Neutral builds of documents that passed the check, newest last. A proposal is
# checked against the head it follows, and that head was itself checked as a
# proposal a moment ago: starting from its build, only the options that differ
# are laid on. The result is the same configuration as a build from defaults.
_NEUTRAL_BUILDS: dict[bytes, ButterflyConfig] = {}
_NEUTRAL_BUILDS_KEPT = 4


def _remember_neutral(document: bytes, build: ButterflyConfig) -> None:
    _NEUTRAL_BUILDS.pop(document, None)
    _NEUTRAL_BUILDS[document] = build
    while len(_NEUTRAL_BUILDS) > _NEUTRAL_BUILDS_KEPT:
        del _NEUTRAL_BUILDS[next(iter(_NEUTRAL_BUILDS))]


def _neutral_start(
    head_document: bytes | None, document: bytes, proposed: dict[str, Any]
) -> tuple[ButterflyConfig, dict[str, Any]]:
    """Where a neutral build of `proposed` (the values of `document`) starts, and the
    values it still has to lay on."""
    if head_document is None or (head_build := _NEUTRAL_BUILDS.get(head_document)) is None:
        return _neutral_base(), proposed
    return head_build, {path: proposed[path] for path in changed_paths(head_document, document)}


@lru_cache(maxsize=16)
def changed_paths(old_document: bytes, new_document: bytes) -> tuple[str, ...]:
    """The cluster options whose values differ between two documents, in schema order.

    A table present in both documents with the same content holds no change, so
    only the tables that differ are walked down to their options: a commit
    usually changes a few options of one section. Cached: a commit's check, its
    static-option check and its history entry all ask about the same pair.
    Raises ValueError for bytes that are not a JSON table.
    """
    old, new = _reading(old_document), _reading(new_document)
    found: list[str] = []
    _differing(old.tree, new.tree, _cluster_tables(), old.values, new.values, found)
    return tuple(sorted(found, key=_schema_positions().__getitem__))


def _differing(old_table: Any, new_table: Any, tables: _Tables, old_values: dict[str, Any],
               new_values: dict[str, Any], found: list[str]) -> None:
    """Options under `tables` whose values differ. `old_table`/`new_table` are the
    documents' tables there (anything else when a document has none): where both
    are tables with the same content, every option under them has the same value."""
    for key, known in tables.items():
        if isinstance(known, str):
            before, after = old_values[known], new_values[known]
            if before is not after and not same_value(before, after):
                found.append(known)
            continue
        old_child = old_table.get(key) if isinstance(old_table, dict) else None
        new_child = new_table.get(key) if isinstance(new_table, dict) else None
        if (isinstance(old_child, dict) and isinstance(new_child, dict)
                and (old_child is new_child or same_value(old_child, new_child))):
            continue
        _differing(old_child, new_child, known, old_values, new_values, found)


def _jsonish(value: Any) -> Any:
    return orjson.loads(orjson.dumps(value, default=_dump_default))


def _dump_default(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"cannot encode {type(value).__name__}")


def apply_document(
    base: ButterflyConfig, document: bytes, local: dict[str, Any], revision: int
) -> ButterflyConfig:
    """This node's effective configuration: `base`, the cluster document, then `local`.

    Only the options whose values differ from `base`'s own are laid on (see
    `differing_from`): they are the changed paths between `base`'s document and
    this one.
    """
    proposed = _cluster_values(document)
    values = {path: proposed[path] for path in changed_paths(_own_document(base), document)}
    values.update(local)
    return base.with_values(values, revision=revision)


def differing_from(base: ButterflyConfig, values: dict[str, Any]) -> dict[str, Any]:
    """The cluster `values` that are not already `base`'s own.

    Only these are laid over the base: the rest would rebuild the same value,
    and would claim it came from a revision when it came from the node's file.
    A commit usually changes a handful of the ~150 cluster options, so this
    also spares each build most of its parsing and merging.
    """
    own = _own_cluster_values(base)
    missing = object()
    return {path: value for path, value in values.items()
            if (old := own.get(path, missing)) is not value and not same_value(old, value)}


@lru_cache(maxsize=8)
def _own_document(base: ButterflyConfig) -> bytes:
    """The cluster document of a node's base configuration (encoded once, not per commit)."""
    return document_of(base)


def _own_cluster_values(base: ButterflyConfig) -> dict[str, Any]:
    return _cluster_values(_own_document(base))


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


def why_not_here(
    base: ButterflyConfig, document: bytes, local: dict[str, Any], revision: int
) -> tuple[ButterflyConfig | None, str | None]:
    """The configuration this node would run, or the reason it cannot run it."""
    try:
        return apply_document(base, document, local, revision), None
    except ConfigError as exc:
        return None, f"does not fit this node: {_summary(exc.errors)}"
    except ValueError as exc:
        return None, f"not a cluster document: {exc}"
