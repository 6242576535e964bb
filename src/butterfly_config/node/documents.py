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

from butterfly_config.canonical import (
    canonical_bytes,
    cluster_section_text,
    cluster_sections,
    digest,
)
from butterfly_config.config import ButterflyConfig, LoadSettings
from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.node.document_reading import (
    Reading,
    changed_paths,
    cluster_paths,
    is_cluster_option,
    reading,
    same_value,
    unknown_paths_beside,
)
from butterfly_config.schema.registry import options
from butterfly_config.schema.root import ConfigModel

MAX_REASON_CHARS = 600


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
        proposed = reading(document)
    except ValueError as exc:
        return f"not a cluster document: {exc}"
    head: Reading | None = None
    if head_document is not None:
        try:
            head = reading(head_document)
        except ValueError:
            head = None
    if head_document is not None and head is not None and head.is_clean():
        unknown = unknown_paths_beside(head_document, document)
    else:
        unknown = proposed.unknown
    if unknown:
        return f"not cluster-scope options: {', '.join(sorted(unknown)[:10])}"
    changed: Iterable[str] | None = None
    if head_document is not None:
        # an unreadable head: every static option counts as changed, from nothing
        changed = changed_paths(head_document, document) if head is not None else cluster_paths()
        # values that differ (1 is not 1.0) but encode alike are the same option value
        statics = static_cluster_paths()
        static = sorted(p for p in changed if p in statics and _jsonish(
            head.value(p) if head is not None else None) != _jsonish(proposed.value(p)))
        if static:
            return f"static options changed (requires restart): {', '.join(static)}"
    base, values = _neutral_start(head_document, proposed, changed)
    try:
        candidate = base.with_values(values)
    except ConfigError as exc:
        return _summary(exc.errors)
    beside = head_document if base is not _neutral_base() else None
    if not _in_canonical_form(document, candidate, beside):
        return "the document is not in canonical form"
    proposed.clean = True
    _remember_neutral(document, candidate)
    return None


def _in_canonical_form(document: bytes, candidate: ButterflyConfig,
                       head_document: bytes | None) -> bool:
    """Whether `document` is the canonical encoding of `candidate` (its build).

    With `head_document` (the candidate was built from the head's neutral build,
    whose canonical encoding the head is): a table written as the head writes it
    was not rebuilt, so it is canonical already, and only the tables written
    otherwise are encoded again; the document must then be its own tree written
    canonically, with the head's tables.
    """
    if head_document is None:
        return canonical_bytes(candidate.model, cluster_only=True) == document
    proposed, head = reading(document), reading(head_document)
    if proposed.tree.keys() != head.tree.keys():
        return canonical_bytes(candidate.model, cluster_only=True) == document
    for name in cluster_sections():
        text = proposed.section_text(name)
        if text is None:
            return False
        if text != head.section_text(name) and text != cluster_section_text(candidate.model,
                                                                            name):
            return False
    return orjson.dumps(proposed.tree, option=orjson.OPT_SORT_KEYS) == document


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
    head_document: bytes | None, proposed: Reading, changed: Iterable[str] | None
) -> tuple[ButterflyConfig, dict[str, Any]]:
    """Where a neutral build of the `proposed` document starts, and the values it
    still has to lay on (`changed`: the options where it differs from the head)."""
    if (head_document is None or changed is None
            or (head_build := _NEUTRAL_BUILDS.get(head_document)) is None):
        return _neutral_base(), dict(proposed.values)
    return head_build, {path: proposed.value(path) for path in changed}


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
    proposed = reading(document)
    values = {path: proposed.value(path)
              for path in changed_paths(base_document(base), document)}
    values.update(local)
    return base.with_values(values, revision=revision)


def differing_from(base: ButterflyConfig, values: dict[str, Any]) -> dict[str, Any]:
    """The cluster `values` that are not already `base`'s own.

    Only these are laid over the base: the rest would rebuild the same value,
    and would claim it came from a revision when it came from the node's file.
    A commit usually changes a handful of the ~150 cluster options, so this
    also spares each build most of its parsing and merging.
    """
    own = reading(base_document(base))
    return {path: value for path, value in values.items()
            if not is_cluster_option(path)
            or ((old := own.value(path)) is not value and not same_value(old, value))}


@lru_cache(maxsize=8)
def base_document(base: ButterflyConfig) -> bytes:
    """The cluster document of a node's base configuration, encoded once (not per commit)."""
    return document_of(base)


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
