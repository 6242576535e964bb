"""pydantic's validation errors, rewritten as the issues an operator reads."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from butterfly_config.errors import ConfigIssue
from butterfly_config.redact import redact_value
from butterfly_config.schema import registry

from .toml_writer import value as toml_value

_PLAIN = (str, int, float, bool)


def display_path(loc: tuple[int | str, ...]) -> str:
    """`('cluster', 'members', 0, 'addr')` -> `cluster.members[0].addr`."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out


def leaf_of(loc: tuple[int | str, ...]) -> str:
    """The schema leaf (or deepest known prefix) an error location falls under."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            break
        candidate = f"{path}.{part}" if path else part
        if registry.option_info(candidate) is not None:
            return candidate
        if not registry.is_section(candidate):
            return candidate
        path = candidate
    return path


def _hint(leaf: str) -> str:
    info = registry.option_info(leaf)
    if info is None:
        return ""
    hint = f"{leaf} expects {info.type_label or 'a valid value'}"
    sample = info.example if info.default is None else info.default
    if isinstance(sample, _PLAIN) and not info.secret:
        hint += f", e.g. {toml_value(sample)}"
    return hint


def _message(error: Any, leaf: str) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown field"
    message = str(error.get("msg", "invalid value"))
    value = error.get("input")
    if isinstance(value, _PLAIN) and kind not in ("value_error",) and "{value}" not in message:
        shown = redact_value(leaf, value)
        if isinstance(shown, str) and shown == "***":
            return f"{message} (value hidden: secret)"
        if str(shown) not in message:
            return f"{message}, got {shown!r}"
    return message


def model_issues(exc: ValidationError) -> list[tuple[str, ConfigIssue]]:
    """(leaf path, issue) for every error pydantic found; the leaf locates its source."""
    found: list[tuple[str, ConfigIssue]] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error.get("loc", ()))
        leaf = leaf_of(loc)
        kind = error.get("type", "")
        issue = ConfigIssue(
            path=display_path(loc),
            message=_message(error, leaf),
            hint=_hint(leaf),
            rule="unknown-key" if kind == "extra_forbidden" else "type",
        )
        found.append((leaf, issue))
    return found
