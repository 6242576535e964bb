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
def _cluster_leaves() -> tuple[tuple[str, tuple[str, ...], Any], ...]:
    """(path, its keys, its default) of every cluster option: split once, read per document."""
    return tuple((path, tuple(path.split(".")), options()[path].default)
                 for path in cluster_paths())


def _dig(tree: Any, keys: tuple[str, ...]) -> tuple[bool, Any]:
    node = tree
    for name in keys:
        if not isinstance(node, dict) or name not in node:
            return False, None
        node = node[name]
    return True, node


def cluster_values(document: bytes) -> dict[str, Any]:
    """{cluster leaf path: value} of a document; options it leaves out are unset/default.

    A fresh dict each call (callers add their own values to it); the reading is
    cached, since a commit asks for the same few documents several times.
    Raises ValueError for bytes that are not a JSON table.
    """
    return dict(_cluster_values(document))


@lru_cache(maxsize=16)
def _tree(document: bytes) -> Any:
    """The parsed document, read-only: its values and its unknown keys are both read
    from it, and a commit asks for the same few documents several times."""
    return orjson.loads(document)


@lru_cache(maxsize=16)
def _cluster_values(document: bytes) -> dict[str, Any]:
    tree = _tree(document)
    if not isinstance(tree, dict):
        raise ValueError("a cluster document must be a JSON object")
    values: dict[str, Any] = {}
    for path, keys, default in _cluster_leaves():
        present, value = _dig(tree, keys)
        values[path] = value if present else default
    return values


@cache
def _cluster_keys() -> tuple[frozenset[str], frozenset[str]]:
    """The cluster option paths, and every table that holds them ("network",
    "network.compression", ...)."""
    sections: set[str] = set()
    for path in cluster_paths():
        parts = path.split(".")
        sections.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return frozenset(cluster_paths()), frozenset(sections)


def _unknown_paths(document: bytes) -> list[str]:
    """Keys of a document that are not cluster-scope options."""
    tree = _tree(document)
    allowed, sections = _cluster_keys()
    found: list[str] = []

    def walk(node: Any, base: str) -> None:
        for key, value in node.items():
            path = f"{base}.{key}" if base else str(key)
            if path in allowed:
                continue
            if isinstance(value, dict) and path in sections:
                walk(value, path)
            else:
                found.append(path)

    if isinstance(tree, dict):
        walk(tree, "")
    return found


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

    Cached: a commit's check, its static-option check and its history entry all
    ask about the same pair. Raises ValueError for bytes that are not a JSON table.
    """
    old = _cluster_values(old_document)
    return tuple(path for path, value in _cluster_values(new_document).items()
                 if (before := old[path]) is not value and not same_value(before, value))


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
    """This node's effective configuration: `base`, the cluster document, then `local`."""
    values = differing_from(base, cluster_values(document))
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
def _own_cluster_values(base: ButterflyConfig) -> dict[str, Any]:
    return _cluster_values(document_of(base))


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
