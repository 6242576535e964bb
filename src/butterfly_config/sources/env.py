"""Environment variables (and `--env-file` files) as a layer.

Names map to options through the schema, never by guessing: the name without
its prefix, with every run of `_` read as a level separator, must equal one
leaf path written the same way (the schema has no two paths that collide,
see `schema_map.env_collisions`).
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Mapping
from typing import Any

from butterfly_config.errors import ConfigIssue, ConfigSyntaxError
from butterfly_config.redact import redact_value

from .layer import Layer, Source, set_path
from .schema_map import env_index, env_key, leaf_kind
from .toml_file import read_text
from .values import ValueParseError, parse_text

DEFAULT_PREFIX = "BUTTERFLY_"
RESERVED = ("API_URL", "API_TOKEN", "CONFIG", "TEST_HOOKS", "TEST_VETO")
"""Variables of the command line and of the test hooks, not options: skipped without a word."""


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        if value[0] == '"':
            inner = inner.replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
        return inner
    comment = value.find(" #")
    return value[:comment].rstrip() if comment >= 0 else value


def read_env_file(path: str | os.PathLike[str]) -> dict[str, tuple[str, int]]:
    """KEY=VALUE lines (`#` comments, quotes, `export ` allowed) -> name: (value, line)."""
    display = os.fspath(path)
    text = read_text(display, given="given with --env-file")
    found: dict[str, tuple[str, int]] = {}
    issues: list[ConfigIssue] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("export "):
            line = line[len("export "):].lstrip()
        name, sep, value = line.partition("=")
        name = name.strip()
        if not sep or not name or not name.replace("_", "").isalnum():
            issues.append(ConfigIssue(
                path="", message=f"not a KEY=VALUE line: {raw.strip()[:60]!r}",
                hint="write NAME=value, one per line; # starts a comment",
                rule="syntax", file=display, line=number,
            ))
            continue
        found[name] = (_unquote(value.strip()), number)
    if issues:
        raise ConfigSyntaxError(f"{display}: malformed environment file", issues)
    return found


def _suggest_variable(key: str, prefix: str) -> str:
    index = env_index()
    close = difflib.get_close_matches(key, list(index), n=1, cutoff=0.75)
    if not close:
        return "see `butterfly config defaults` for the option names"
    return f"did you mean {prefix}{close[0]} ({index[close[0]]})?"


def env_layer(
    environ: Mapping[str, str],
    *,
    prefix: str = DEFAULT_PREFIX,
    strict: bool = False,
    env_files: Iterable[str | os.PathLike[str]] = (),
) -> Layer:
    """Every `{prefix}*` variable of the env files and `environ` (which wins) as one layer."""
    variables: dict[str, tuple[str, Source]] = {}
    for env_file in env_files:
        display = os.fspath(env_file)
        for name, (value, line) in read_env_file(display).items():
            if name.startswith(prefix):
                variables[name] = (value, Source("env", name, chain=(display,), line=line))
    for name, value in environ.items():
        if name.startswith(prefix):
            variables[name] = (value, Source("env", name))
    layer = Layer()
    if not variables:
        return layer
    reserved = {prefix + r for r in RESERVED}
    index = env_index()
    for name, (text, source) in variables.items():
        if name in reserved:
            continue
        key = env_key(name[len(prefix):])
        path = index.get(key)
        if path is None:
            layer.issues.append(ConfigIssue(
                path="",
                message=f"unknown environment variable {name}" + ("" if strict else " (ignored)"),
                hint=_suggest_variable(key, prefix),
                rule="unknown-env",
                severity="error" if strict else "warning",
                file=source.chain[0] if source.chain else None,
                line=source.line,
            ))
            continue
        kind = leaf_kind(path)
        assert kind is not None
        try:
            parsed: Any = parse_text(text, kind)
        except ValueParseError as exc:
            shown = redact_value(path, text)
            message = str(exc).replace(f"'{text}'", f"'{shown}'")
            layer.issues.append(ConfigIssue(
                path=path,
                message=f"{name}: {message}",
                hint=f"{path} expects {kind.describe()}",
                rule="type",
                file=source.chain[0] if source.chain else None,
                line=source.line,
            ))
            continue
        set_path(layer.values, path, parsed)
        layer.origins[path] = source
    return layer

