"""Turning request bodies into documents and patch operations, or a clear 400.

Bodies are parsed by hand rather than by FastAPI's model binding so that a
configuration can arrive as TOML or JSON, and so that every malformed body is
a 400 with a message that says what is wrong (never a 422 or a 500).
"""

from __future__ import annotations

import tomllib
from typing import Any

import orjson

from butterfly_config import toml_text
from butterfly_config.errors import ConfigIssue
from butterfly_config.node.service import PatchOperation
from butterfly_config.sources.toml_file import toml_error_issue

TOML_TYPES = frozenset({"application/toml", "text/toml", "application/x-toml"})
JSON_TYPES = frozenset({"application/json", "text/json"})
_OPS = ("set", "delete", "merge")
MAX_OPERATIONS = 10_000


class BadBody(Exception):
    """The request body cannot be used; `issues` say why, for a 400 response."""

    def __init__(self, message: str, issues: list[ConfigIssue] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.issues = issues or [ConfigIssue(path="", message=message, rule="request-body")]


class UnparsableDocument(BadBody):
    """The body is not a TOML or JSON document (or not a table of sections).

    For `POST /api/v1/config/validate` that is a validation result (200,
    `valid: false`, the parse error as an issue with its line and column);
    for an update it is a 400 like any other unusable body.
    """


def media_type(content_type: str | None) -> str:
    """`application/toml; charset=utf-8` -> `application/toml`."""
    if not content_type:
        return ""
    return content_type.split(";", 1)[0].strip().lower()


def parse_document(body: bytes, content_type: str | None) -> dict[str, Any]:
    """A configuration document from a TOML or JSON body.

    Without a Content-Type, a body starting with `{` is read as JSON, anything
    else as TOML.
    """
    if not body.strip():
        raise BadBody(
            "request body is empty: send a configuration as TOML "
            "(Content-Type: application/toml) or JSON"
        )
    kind = media_type(content_type)
    if kind in TOML_TYPES:
        return _parse_toml(body)
    if kind in JSON_TYPES:
        return _expect_table(_parse_json(body, UnparsableDocument), "JSON")
    if kind and kind not in ("text/plain", "application/octet-stream"):
        raise BadBody(
            f"unsupported Content-Type {kind!r}: use application/toml or application/json"
        )
    if body.lstrip().startswith(b"{"):
        return _expect_table(_parse_json(body, UnparsableDocument), "JSON")
    return _parse_toml(body)


_PATCH_SHAPE = '{"operations": [{"op": "set", "path": ..., "value": ...}]}'


def parse_operations(body: bytes, content_type: str | None = None) -> list[PatchOperation]:
    """The operations of a PATCH body `{"operations": [{"op", "path", "value"}]}`."""
    if not body.strip():
        raise BadBody(f"request body is empty: send {_PATCH_SHAPE}")
    if media_type(content_type) in TOML_TYPES:
        raise BadBody(f"PATCH takes JSON: {_PATCH_SHAPE}; "
                      "a TOML document goes to POST /api/v1/config")
    payload = _parse_json(body)
    if not isinstance(payload, dict):
        raise BadBody(f"the body must be a JSON object {_PATCH_SHAPE}, "
                      f"got {type(payload).__name__}")
    unknown = sorted(set(payload) - {"operations"})
    if unknown:
        raise BadBody(f"unknown field(s) {', '.join(map(repr, unknown))}: only 'operations'")
    raw_ops = payload.get("operations")
    if not isinstance(raw_ops, list) or not raw_ops:
        raise BadBody("'operations' must be a non-empty list of {op, path, value} objects")
    if len(raw_ops) > MAX_OPERATIONS:
        raise BadBody(f"too many operations ({len(raw_ops)}): at most {MAX_OPERATIONS}")
    issues: list[ConfigIssue] = []
    operations: list[PatchOperation] = []
    for index, raw in enumerate(raw_ops):
        op = _operation(index, raw, issues)
        if op is not None:
            operations.append(op)
    if issues:
        raise BadBody("malformed operations", issues)
    return operations


def _operation(index: int, raw: object, issues: list[ConfigIssue]) -> PatchOperation | None:
    where = f"operations[{index}]"

    def bad(message: str, hint: str = "") -> None:
        issues.append(ConfigIssue(path=where, message=message, hint=hint, rule="patch-operation"))

    if not isinstance(raw, dict):
        bad("an operation must be an object {op, path, value}")
        return None
    extra = sorted(set(raw) - {"op", "path", "value"})
    if extra:
        bad(f"unknown field(s) {', '.join(map(repr, extra))}", "fields are op, path, value")
        return None
    op, path = raw.get("op"), raw.get("path")
    if op not in _OPS:
        bad(f"op must be one of {', '.join(_OPS)}, got {op!r}")
        return None
    if not isinstance(path, str) or not _valid_path(path):
        bad("path must be a dotted option path such as 'scheduling.policy'")
        return None
    if op in ("set", "merge") and "value" not in raw:
        bad(f"op {op!r} needs a value")
        return None
    if op == "merge" and not isinstance(raw["value"], dict):
        bad("op 'merge' needs a table (JSON object) as value", "use 'set' for a single value")
        return None
    if op == "delete" and raw.get("value") is not None:
        bad("op 'delete' takes no value")
        return None
    return PatchOperation(op=op, path=path, value=raw.get("value"))


def _valid_path(path: str) -> bool:
    parts = path.split(".")
    return bool(path) and all(part.strip() == part and part for part in parts)


def _parse_toml(body: bytes) -> dict[str, Any]:
    text = _decode(body)
    try:
        return toml_text.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UnparsableDocument(f"body is not valid TOML: {exc}",
                                 [toml_error_issue(exc, text, None)]) from None


def _parse_json(body: bytes, error: type[BadBody] = BadBody) -> object:
    """The JSON value of `body`; `error` (with the position as an issue) when it has none."""
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        issue = ConfigIssue(
            path="", message=f"invalid JSON: {exc.msg}",
            hint="see https://www.json.org for the syntax, or send TOML "
                 "(Content-Type: application/toml)",
            rule="syntax", line=exc.lineno, column=exc.colno,
        )
        raise error(f"body is not valid JSON: {exc}", [issue]) from None


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8")
    except UnicodeDecodeError as exc:
        message = f"body is not UTF-8 text (byte {exc.start})"
        raise UnparsableDocument(message, [ConfigIssue(
            path="", message=f"not UTF-8 text (byte {exc.start}); a configuration must be UTF-8",
            rule="syntax")]) from None


def _expect_table(value: object, kind: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        message = (f"the {kind} body must be an object (a table of sections), "
                   f"got {type(value).__name__}")
        raise UnparsableDocument(message, [ConfigIssue(
            path="", message=message, hint='e.g. {"scheduling": {"policy": "least_loaded"}}',
            rule="syntax")])
    return value
