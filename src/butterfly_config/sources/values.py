"""Text -> typed value, by the target option's kind (env variables, `--set`).

Only the shape is decided here (bool, number, list, table); ranges and enum
values are the model's job, so every rule lives in one place.
"""

from __future__ import annotations

import tomllib
from typing import Any

import orjson

from butterfly_config import toml_text

from .schema_map import ValueKind

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off"})


class ValueParseError(ValueError):
    """Text that cannot be read as the option's kind; the message says what was expected."""


def _structured(text: str) -> Any:
    """A JSON value, or else a TOML value (arrays and inline tables in either syntax)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        pass
    try:
        return toml_text.loads_value(text)
    except tomllib.TOMLDecodeError as exc:
        raise ValueParseError(f"'{text}' is neither a JSON nor a TOML value ({exc})") from None


def _utf8_text(text: str) -> str:
    """`text` if it is Unicode text; a variable or argument holding bytes that are not UTF-8
    arrives with surrogate escapes, which could be neither hashed nor sent to a peer.
    The message does not repeat the value (it may be a secret)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueParseError(
            f"the value is not valid UTF-8 text (at character {exc.start + 1})") from None
    return text


def parse_text(text: str, kind: ValueKind) -> Any:
    """Read `text` as a value of `kind`, or raise `ValueParseError` saying what was expected.

    The empty text unsets an optional option (`BUTTERFLY_NETWORK_EXTERNAL_ADDR=`).
    """
    _utf8_text(text)
    if kind.optional and text == "":
        return None
    name = kind.name
    if name == "str":
        return text
    stripped = text.strip()
    if name == "bool":
        lowered = stripped.lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
        raise ValueParseError(f"'{text}' is not a boolean: use true/false, yes/no or 1/0")
    if name == "int":
        try:
            return int(stripped)
        except ValueError:
            raise ValueParseError(f"'{text}' is not an integer") from None
    if name == "float":
        try:
            return float(stripped)
        except ValueError:
            raise ValueParseError(f"'{text}' is not a number") from None
    if name == "list":
        return _parse_list(stripped, kind)
    if name == "table":
        if not stripped.startswith("{") and not stripped.startswith("["):
            raise ValueParseError(
                f"'{text}' is not a table: give an inline table like "
                '{name = "value"} or a JSON object'
            )
        return _structured(stripped)
    # kind "any": structured when it looks structured, else the text itself
    try:
        return _structured(stripped)
    except ValueParseError:
        return text


def _parse_list(stripped: str, kind: ValueKind) -> Any:
    if stripped.startswith("["):
        value = _structured(stripped)
        if not isinstance(value, list):
            raise ValueParseError(f"'{stripped}' is not a list")
        return value
    if not stripped:
        return []
    item = kind.item or ValueKind("any")
    if item.name == "table":
        raise ValueParseError(
            f"'{stripped}' is not a list of tables: give a JSON or TOML array of tables"
        )
    return [parse_text(part.strip(), item) for part in stripped.split(",")]


def coerce(value: Any, kind: ValueKind) -> Any:
    """A Python value for the option: text is parsed by `kind`, anything else is kept."""
    if isinstance(value, str):
        return parse_text(value, kind) if kind.name != "str" else _utf8_text(value)
    return value
