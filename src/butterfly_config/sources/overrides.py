"""Values given by dotted path: `--set`, `--node-id`/`--listen-addr`/`--log-level`, runtime.

Text is parsed by the option's kind; Python values pass through to the model.
An unknown path here is always an error: unlike a file written for a newer
version, an explicit override that names nothing is a typo.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from butterfly_config.errors import ConfigIssue, UsageError
from butterfly_config.redact import redact_value
from butterfly_config.schema import registry

from .keys import claim_known
from .layer import Layer, Source, set_path
from .schema_map import ValueKind, leaf_kind
from .values import ValueParseError, coerce

CLI_FLAGS: dict[str, str] = {
    "node_id": "node.node_id",
    "listen_addr": "network.listen_addr",
    "log_level": "observability.logging.level",
}
"""Dedicated command-line flags (argparse dest) and the option each one sets."""


def parse_set_argument(text: str) -> tuple[str, str]:
    """`KEY=VALUE` -> (key, value text); anything else is a usage error."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise UsageError(
            f"--set {text!r}: expected KEY=VALUE",
            hint="e.g. --set network.connection.max_connections=500",
        )
    return key, value


def _unknown(path: str, source: Source) -> ConfigIssue:
    suggestion = registry.suggest(path)
    return ConfigIssue(
        path=path,
        message=f"unknown option '{path}' ({source.describe()})",
        hint=f"did you mean {suggestion}?" if suggestion else "see `butterfly config defaults`",
        rule="unknown-key",
    )


def values_layer(items: Iterable[tuple[str, Any, Source]]) -> Layer:
    """One layer from (dotted path, value, source) triples; later triples win."""
    layer = Layer()
    for path, raw, source in items:
        kind = leaf_kind(path)
        if kind is None and registry.is_section(path):
            kind = ValueKind("table")
        if kind is None:
            layer.issues.append(_unknown(path, source))
            continue
        try:
            value = coerce(raw, kind)
        except ValueParseError as exc:
            shown = redact_value(path, raw)
            layer.issues.append(ConfigIssue(
                path=path,
                message=f"{source.describe()}: {exc}".replace(f"'{raw}'", f"'{shown}'"),
                hint=f"{path} expects {kind.describe()}",
                rule="type",
            ))
            continue
        if registry.option_info(path) is not None:
            set_path(layer.values, path, value)
            layer.origins[path] = source
            continue
        # a whole section given as a table: claim its known keys, refuse the rest
        document: dict[str, Any] = {}
        set_path(document, path, value)
        origins, unknown = claim_known(document, source)
        layer.issues.extend(_unknown(p, source) for p in unknown)
        _merge_plain(layer.values, document)
        layer.origins.update(origins)
    return layer


def _merge_plain(target: dict[str, Any], extra: dict[str, Any], prefix: str = "") -> None:
    for key, value in extra.items():
        path = prefix + key
        current = target.get(key)
        if isinstance(value, dict) and isinstance(current, dict) and registry.is_section(path):
            _merge_plain(current, value, f"{path}.")
        else:
            target[key] = value


def cli_layer(overrides: Iterable[str] = (), **flags: str | None) -> Layer:
    """`--set KEY=VALUE` arguments, then the dedicated flags (which name their option exactly)."""
    items: list[tuple[str, Any, Source]] = []
    for text in overrides:
        key, value = parse_set_argument(text)
        items.append((key, value, Source("cli", "--set")))
    for dest, flag_value in flags.items():
        if flag_value is None:
            continue
        if dest not in CLI_FLAGS:
            raise UsageError(f"unknown command-line flag {dest!r}")
        items.append((CLI_FLAGS[dest], flag_value, Source("cli", "--" + dest.replace("_", "-"))))
    return values_layer(items)


def runtime_layer(changes: Mapping[str, Any], revision: int | None = None) -> Layer:
    """Runtime changes by dotted path, recorded as coming from `revision N`."""
    source = Source("runtime", f"revision {revision}" if revision is not None else "update")
    return values_layer((path, value, source) for path, value in changes.items())
