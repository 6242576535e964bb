"""Hypothesis strategies for option values and documents, derived from the schema itself."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

from butterfly_config.schema import registry
from butterfly_config.schema.jsonschema import property_schemas
from butterfly_config.sources.layer import set_path

_LEVELS = ["trace", "debug", "info", "warn", "error"]
_ADDRESSES = ["127.0.0.1:7890", "10.0.1.10:8080", "node-1.example:7000", "[::1]:9000"]
_NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)
_SAFE_KEYS = st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True)


def _number(schema: dict[str, Any], integer: bool) -> st.SearchStrategy[Any]:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if integer:
        low = 0 if low is None else int(low)
        return st.integers(low, int(high) if high is not None else low + 10**9)
    exclusive = "exclusiveMinimum" in schema
    low = schema.get("exclusiveMinimum", low)
    return st.floats(
        min_value=0.0 if low is None else float(low),
        max_value=float(high) if high is not None else 1e6,
        exclude_min=exclusive,
        allow_nan=False,
        allow_infinity=False,
    )


def _string(path: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    pattern = schema.get("pattern", "")
    info = registry.options()[path]
    if "6553" in pattern:  # host:port
        return st.sampled_from(_ADDRESSES)
    if pattern:
        samples = [v for v in (info.default, info.example) if isinstance(v, str)]
        return st.sampled_from(samples)
    return _NAMES


def _from_schema(path: str, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    if "enum" in schema:
        return st.sampled_from(list(schema["enum"]))
    kind = schema.get("type")
    if kind == "boolean":
        return st.booleans()
    if kind in ("integer", "number"):
        return _number(schema, kind == "integer")
    if kind == "string":
        return _string(path, schema)
    if kind == "array":
        if path == "cluster.members":
            return st.lists(_member(), max_size=4, unique_by=lambda m: m["node_id"])
        items = schema.get("items", {})
        inner = _from_schema(path, dict(items))
        if items.get("type") == "number":
            return st.lists(inner, min_size=1, max_size=5, unique=True).map(sorted)
        return st.lists(inner, max_size=5, unique=bool(schema.get("uniqueItems")))
    if kind == "object":
        if path == "observability.logging.filters":
            return st.dictionaries(_NAMES, st.sampled_from(_LEVELS), max_size=3)
        return st.dictionaries(_NAMES, st.dictionaries(_SAFE_KEYS, _free_value(), max_size=3),
                               max_size=3)
    raise AssertionError(f"no strategy for {path}: {schema}")


def _free_value() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.integers(-(2**40), 2**40),
        st.floats(allow_nan=False, allow_infinity=False, width=64),
        st.booleans(),
        _NAMES,
    )


def _member() -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({
        "node_id": st.from_regex(r"node-[0-9]{1,4}", fullmatch=True),
        "addr": st.sampled_from(_ADDRESSES),
        "api_addr": st.sampled_from(_ADDRESSES),
        "public_key": st.sampled_from(["/etc/butterfly/keys/n.pub", "bm90LWEta2V5"]),
    })


@cache
def leaf_strategies() -> dict[str, st.SearchStrategy[Any]]:
    """A strategy of valid-looking values for every leaf except the include directive."""
    schemas = property_schemas()
    return {
        path: _from_schema(path, dict(schemas[path]))
        for path in registry.options()
        if not path.startswith("include.")
    }


def leaf_values(max_size: int = 8) -> st.SearchStrategy[dict[str, Any]]:
    """{dotted path: value} for a few random leaves."""
    strategies = leaf_strategies()
    return st.lists(st.sampled_from(sorted(strategies)), max_size=max_size, unique=True).flatmap(
        lambda paths: st.fixed_dictionaries({p: strategies[p] for p in paths})
    )


def nested(flat: dict[str, Any]) -> dict[str, Any]:
    """{dotted path: value} -> nested tables."""
    document: dict[str, Any] = {}
    for path, value in flat.items():
        set_path(document, path, value)
    return document
