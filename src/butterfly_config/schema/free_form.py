"""Free-form tables (`partition.model_hints`): values every node holds alike.

The node that takes an update keeps the values it was given; every other member
decodes the agreed JSON bytes; the mirror and `config export` write TOML. A
free-form value must come out the same all three ways, or one cluster_hash
stands for different values on different nodes.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from .types import MAX_INT

_EXACT_FLOAT = 2.0**53
"""Up to here every integral float is an exact integer."""


MAX_NESTING = 32
"""Tables and lists inside a free-form value: deeper than any real hint, and far from
the JSON encoder's limit (255)."""


def _agreed_value(value: Any, where: str, depth: int = 0) -> Any:
    """`value` as every node reads it back from the agreed (JSON) document.

    The node that takes an update keeps the values it was given, the others
    decode the canonical bytes: both must hold the same thing. So an integral
    float becomes the integer the encoding writes. Refused: what JSON cannot
    carry exactly (inf, nan, integers beyond 64 bits, dates and times) and null,
    which TOML (the mirror, export, files) cannot write.
    """
    if value is None:  # JSON can send it; the TOML mirror, export and files cannot hold it
        raise PydanticCustomError(
            "free_form_null", "{where}: TOML has no null; leave the key out", {"where": where})
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        return _unicode_text(value, where)
    if isinstance(value, int):
        if not -MAX_INT - 1 <= value <= MAX_INT:
            raise PydanticCustomError(
                "free_form_int", "{where}: integers are 64-bit, got {value}",
                {"where": where, "value": value})
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise PydanticCustomError(
                "free_form_float", "{where}: must be a finite number, got {value}",
                {"where": where, "value": value})
        return int(value) if value.is_integer() and abs(value) <= _EXACT_FLOAT else value
    if isinstance(value, dict | list | tuple) and depth >= MAX_NESTING:
        raise PydanticCustomError(
            "free_form_depth", "{where}: nested more than {limit} levels deep",
            {"where": where, "limit": MAX_NESTING})
    if isinstance(value, dict):
        return {_unicode_text(str(key), f"{where}.{key!r}"):
                _agreed_value(item, f"{where}.{key}", depth + 1)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_agreed_value(item, f"{where}[{i}]", depth + 1) for i, item in enumerate(value)]
    raise PydanticCustomError(
        "free_form_value",
        "{where}: a {kind} cannot be agreed on by the cluster; write it as a string",
        {"where": where, "kind": type(value).__name__})


def _unicode_text(text: str, where: str) -> str:
    """`text`, if UTF-8 can carry it: a byte that was not UTF-8 (an environment variable
    read with surrogate escapes) cannot be hashed or sent."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise PydanticCustomError(
            "free_form_text", "{where}: text is not valid UTF-8, got {value}",
            {"where": where.encode("utf-8", "backslashreplace").decode(),
             "value": ascii(text)}) from None
    return text


def _agreed_tables(tables: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {_unicode_text(name, repr(name)): _agreed_value(table, name)
            for name, table in tables.items()}


AgreedTables = Annotated[dict[str, dict[str, Any]], AfterValidator(_agreed_tables)]
"""Named free-form tables (e.g. per-model hints) whose values survive the agreed
encoding and TOML unchanged: strings, booleans, 64-bit integers, finite floats, lists,
tables."""
