"""The JSON Schema (draft 2020-12) of a configuration file, for editors and tools.

Generated from the models, then tidied for TOML: TOML has no null, so an
optional option is simply its type (leave the key out to unset it), and
pydantic's generated titles give way to our descriptions.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from functools import cache
from typing import Any

from .root import ConfigModel
from .types import MAX_INT

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "urn:butterfly-config:schema:config"

_SCHEMA_MAPS = ("properties", "$defs", "patternProperties")
_SCHEMA_VALUES = ("items", "additionalProperties", "not")
_SCHEMA_LISTS = ("anyOf", "allOf", "oneOf", "prefixItems")


def _tidy(schema: Any) -> Any:
    """Drop null branches and generated titles, everywhere in `schema`."""
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _SCHEMA_MAPS:
            out[key] = {name: _tidy(sub) for name, sub in value.items()}
        elif key in _SCHEMA_VALUES:
            out[key] = _tidy(value)
        elif key in _SCHEMA_LISTS:
            out[key] = [_tidy(sub) for sub in value]
        elif key == "x-example":
            out["examples"] = [value]
        elif key != "title":
            out[key] = value
    branches = out.get("anyOf")
    if branches is not None:
        kept = [b for b in branches if b != {"type": "null"}]
        if len(kept) != len(branches):
            del out["anyOf"]
            if out.get("default", 0) is None:
                del out["default"]
            out = {**kept[0], **out} if len(kept) == 1 else {"anyOf": kept, **out}
    return out


@cache
def _schema() -> dict[str, Any]:
    generated = ConfigModel.model_json_schema(mode="validation")
    tidy: dict[str, Any] = _tidy(generated)
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": SCHEMA_ID,
        "title": "Butterfly node configuration",
        **tidy,
    }


def json_schema() -> dict[str, Any]:
    """The whole JSON Schema as a fresh dict (callers may change it)."""
    return copy.deepcopy(_schema())


def _resolve(schema: Mapping[str, Any], defs: Mapping[str, Any]) -> Mapping[str, Any]:
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/$defs/"):
        rest = {k: v for k, v in schema.items() if k != "$ref"}
        return {**defs[ref.removeprefix("#/$defs/")], **rest}
    return schema


@cache
def property_schemas() -> Mapping[str, Mapping[str, Any]]:
    """The schema of every field (sections and leaves) by dotted path, refs resolved one level."""
    root = _schema()
    defs: Mapping[str, Any] = root.get("$defs", {})
    found: dict[str, Mapping[str, Any]] = {}

    def walk(schema: Mapping[str, Any], prefix: str) -> None:
        for name, prop in schema.get("properties", {}).items():
            resolved = _resolve(prop, defs)
            found[prefix + name] = resolved
            if "properties" in resolved:
                walk(resolved, f"{prefix}{name}.")

    walk(root, "")
    return found


def leaf_type_label(path: str) -> str:
    """`type_label` of the option or section at dotted `path` ("" if there is none)."""
    schema = property_schemas().get(path)
    return "" if schema is None else type_label(schema)


def _range(schema: Mapping[str, Any]) -> str:
    low = schema.get("minimum")
    high = schema.get("maximum")
    if high == MAX_INT:
        high = None  # the 64-bit limit every integer has; not worth a reader's attention
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if "exclusiveMinimum" in schema:
        return f" > {schema['exclusiveMinimum']}"
    if high is not None:
        return f" <= {high}"
    return ""


def type_label(schema: Mapping[str, Any]) -> str:
    """A short human-readable type, e.g. 'integer >= 1' or '"quic" | "grpc" | "tcp"'."""
    if "enum" in schema:
        return "one of " + ", ".join(json.dumps(v) for v in schema["enum"])
    if "x-type" in schema:
        return str(schema["x-type"])
    kind = schema.get("type")
    if kind == "integer":
        return "integer" + _range(schema)
    if kind == "number":
        return "number" + _range(schema)
    if kind == "boolean":
        return "boolean"
    if kind == "string":
        return "string (non-empty)" if schema.get("minLength") else "string"
    if kind == "array":
        items = schema.get("items", {})
        if "$ref" in items:
            fields = ", ".join(_schema()["$defs"][items["$ref"].rsplit("/", 1)[1]]["properties"])
            return f"list of tables {{{fields}}}"
        return f"list of {type_label(items)}"
    if kind == "object":
        values = schema.get("additionalProperties")
        if isinstance(values, dict) and values:
            return f"table of name -> {type_label(values)}"
        return "table"
    return "any"
