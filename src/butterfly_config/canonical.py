"""Canonical encoding of a configuration and its BLAKE3 hashes (DESIGN 1.5).

Canonical = the model's JSON-mode dump (so every value already has its field's
type: a float field holds 1.0, never 1), keys sorted, no whitespace, UTF-8,
unset options left out, the `[include]` directive left out. Integral floats in
free-form tables (`partition.model_hints`) are written as integers, so `8` and
`8.0` there hash the same (and integers past 64 bits as floats, which JSON can
carry). Equal configurations give equal bytes whatever
their files looked like.
"""

from __future__ import annotations

import typing
from functools import cache
from typing import Any

import orjson
from blake3 import blake3

from butterfly_config.schema import registry
from butterfly_config.schema.root import ConfigModel

_OPTIONS = orjson.OPT_SORT_KEYS
_EXCLUDED = {"include"}
"""The include directive is not configuration: in no hash."""

Spec = dict[str, Any]
"""A pydantic include/exclude spec: section -> sub-spec, leaf -> True."""


def _spec(paths: typing.Iterable[str]) -> Spec:
    spec: Spec = {}
    for path in paths:
        *parents, leaf = path.split(".")
        node = spec
        for name in parents:
            node = node.setdefault(name, {})
        node[leaf] = True
    return spec


@cache
def _cluster_spec() -> Spec:
    """Built once: which fields a cluster dump keeps."""
    return _spec(p for p, info in registry.options().items() if info.scope == "cluster")


@cache
def _free_form_paths() -> tuple[tuple[str, ...], ...]:
    """Leaves whose values are not typed by the schema (dicts of Any): normalized by hand."""
    found = []
    for path, info in registry.options().items():
        if "Any" in repr(info.annotation):
            found.append(tuple(path.split(".")))
    return tuple(found)


_INT64_MIN = -(2**63)
_UINT64_MAX = 2**64 - 1
_EXACT = 2.0**53
"""Beyond this, floats are not all integers and ints may not fit JSON's 64 bits: kept as is."""


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) <= _EXACT:
        return int(value)
    if type(value) is int and not _INT64_MIN <= value <= _UINT64_MAX:
        return float(value)  # JSON encoders stop at 64 bits; such a number is only a magnitude
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _normalize(document: dict[str, Any]) -> dict[str, Any]:
    for parts in _free_form_paths():
        node: Any = document
        for name in parts[:-1]:
            node = node.get(name) if isinstance(node, dict) else None
        if isinstance(node, dict) and node.get(parts[-1]):
            node[parts[-1]] = _integral(node[parts[-1]])
    return document


def canonical_document(model: ConfigModel, *, cluster_only: bool = False) -> dict[str, Any]:
    """The JSON-compatible dict that is hashed (cluster-scope options only, or every option)."""
    if cluster_only:
        document = model.model_dump(mode="json", include=_cluster_spec(), exclude_none=True)
    else:
        document = model.model_dump(mode="json", exclude=_EXCLUDED, exclude_none=True)
    return _normalize(document)


def cluster_sections() -> tuple[str, ...]:
    """The top-level tables of a cluster document."""
    return tuple(_cluster_spec())


def cluster_section_text(model: ConfigModel, name: str) -> bytes:
    """The canonical bytes of one table of the cluster document: what
    `canonical_bytes(model, cluster_only=True)` writes for `name`, dumped alone."""
    section = getattr(model, name)
    document = {name: section.model_dump(mode="json", include=_cluster_spec()[name],
                                         exclude_none=True)}
    return encode(_normalize(document)[name])


def canonical_bytes(model: ConfigModel, *, cluster_only: bool = False) -> bytes:
    """Sorted keys, no whitespace, UTF-8: equal configurations give equal bytes."""
    return encode(canonical_document(model, cluster_only=cluster_only))


def encode(document: Any) -> bytes:
    """Canonical bytes of an already JSON-compatible value (e.g. a stored cluster view).

    Copied to their exact size: orjson hands back bytes that keep its writer's
    power-of-two buffer (a 3.5 KB document holds 8 KB, a 300-byte table 4 KB),
    and these bytes live as long as their revision or reading is kept.
    """
    return bytes(memoryview(orjson.dumps(document, option=_OPTIONS)))


def digest(data: bytes) -> str:
    """The project's hash function: BLAKE3, hex."""
    return str(blake3(data).hexdigest())


def _cluster_part(document: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """The cluster-scope part of a full canonical document (spec built once)."""
    out: dict[str, Any] = {}
    for name, sub in spec.items():
        if name in document:
            out[name] = document[name] if sub is True else _cluster_part(document[name], sub)
    return out


def hashes(model: ConfigModel) -> tuple[str, str]:
    """(cluster_hash, full_hash) from one dump of the model: cheaper than asking twice."""
    document = canonical_document(model)
    cluster = _cluster_part(document, _cluster_spec())
    return digest(encode(cluster)), digest(encode(document))


def cluster_hash(model: ConfigModel) -> str:
    """BLAKE3 of the cluster-scope options: what every member must agree on."""
    return digest(canonical_bytes(model, cluster_only=True))


def full_hash(model: ConfigModel) -> str:
    """BLAKE3 of every option (the include directive excepted)."""
    return digest(canonical_bytes(model))
