"""`butterfly config validate | show | explain | diff`: commands that need no running node.

Each handler takes the parsed arguments and returns the exit code; problems
are raised as the project's error types and printed by `cli.main`. Heavy
imports (httpx) happen only in the one branch that talks to a node.

`show`, `explain` and `diff` are about content: they skip the checks of the
file system (certificates, key files) that `validate` makes, so a production
file can be read and compared on a laptop.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ConfigError, ConfigIssue, UsageError
from butterfly_config.loader import load_from_args
from butterfly_config.redact import redact_any, redact_text, redact_tree, redact_value
from butterfly_config.schema import registry
from butterfly_config.schema.options import OptionInfo
from butterfly_config.sources.layer import Source
from butterfly_config.sources.schema_map import env_name
from butterfly_config.sources.toml_writer import to_toml
from butterfly_config.sources.toml_writer import value as toml_value


def _out(text: str) -> None:
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def _json(data: Any) -> None:
    _out(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _issue_dict(issue: ConfigIssue) -> dict[str, object]:
    data = issue.as_dict()
    data["message"] = redact_text(issue.message)
    data["hint"] = redact_text(issue.hint)
    return data


def _require_config(args: argparse.Namespace) -> None:
    if not getattr(args, "config", None):
        raise UsageError(
            "no configuration file given",
            hint="pass --config FILE or set BUTTERFLY_CONFIG",
        )


# -- validate --------------------------------------------------------------------------
def validate(args: argparse.Namespace) -> int:
    """Load and check; print every issue. Exit 0 valid (warnings allowed), 1 invalid."""
    _require_config(args)
    try:
        config = load_from_args(args)
        issues = list(config.warnings)
    except ConfigError as exc:
        issues = exc.errors or [ConfigIssue(path="", message=exc.message, hint=exc.hint)]
    errors = [i for i in issues if i.severity == "error"]
    warnings = [i for i in issues if i.severity != "error"]
    if args.format == "json":
        _json({
            "valid": not errors,
            "errors": [_issue_dict(i) for i in errors],
            "warnings": [_issue_dict(i) for i in warnings],
        })
    else:
        for issue in [*errors, *warnings]:
            _out(redact_text(issue.render()))
        files = ", ".join(args.config)
        if errors:
            _out(f"{files}: invalid: {_count(errors, 'error')}, {_count(warnings, 'warning')}")
        else:
            _out(f"{files}: valid ({_count(warnings, 'warning')})")
    return 1 if errors else 0


def _count(items: list[ConfigIssue], word: str) -> str:
    return f"{len(items)} {word}{'' if len(items) == 1 else 's'}"


# -- show ------------------------------------------------------------------------------
def show(args: argparse.Namespace) -> int:
    """Print the effective configuration (TOML or JSON), its sources, or its hashes."""
    if args.hash and args.cluster:
        return _cluster_hashes(args)
    if args.cluster:
        raise UsageError("--cluster goes with --hash",
                         hint="butterfly config show --hash --cluster")
    config = load_from_args(args, check_paths=False)
    if args.hash:
        if args.format == "json":
            _json({"cluster_hash": config.cluster_hash, "full_hash": config.full_hash})
        else:
            _out(f"cluster_hash: {config.cluster_hash}\nfull_hash: {config.full_hash}")
        return 0
    document = redact_tree(config.to_dict())
    if args.format == "json":
        if args.sources:
            sources = {path: config.provenance(path).describe() for path in _set_paths(config)}
            _json({"config": document, "sources": sources})
        else:
            _json(document)
        return 0
    annotate = (lambda path: _source_note(config, path)) if args.sources else None
    _out(to_toml(document, annotate))
    return 0


def _set_paths(config: ButterflyConfig) -> list[str]:
    return [path for path in registry.options()
            if not path.startswith("include.") and config.get_value(path) is not None]


def _source_note(config: ButterflyConfig, path: str) -> str | None:
    if registry.option_info(path) is None:
        return None
    return config.provenance(path).describe()


def _cluster_hashes(args: argparse.Namespace) -> int:
    """Ask the node at --url for every member's revision and cluster_hash."""
    from butterfly_config.client import ButterflyClient

    with ButterflyClient(args.url, token=args.token) as client:
        status = client.status()
    nodes = status.get("nodes", [])
    if args.format == "json":
        _json({
            "revision": status.get("revision"),
            "cluster_hash": status.get("cluster_hash"),
            "nodes": [
                {k: node.get(k) for k in ("node_id", "revision", "cluster_hash", "state")}
                for node in nodes
            ],
        })
        return 0
    _out(f"cluster: revision {status.get('revision')} cluster_hash {status.get('cluster_hash')}")
    for node in nodes:
        revision = node.get("revision")
        _out(f"{node.get('node_id')}: revision {'-' if revision is None else revision} "
             f"cluster_hash {node.get('cluster_hash') or '-'} ({node.get('state', 'unknown')})")
    return 0


# -- explain ---------------------------------------------------------------------------
_APPLIES = {
    "static-critical": "requires restart (static, cluster-wide: every member must agree)",
    "static-local": "requires restart (static, this node only)",
    "dynamic-consensus": "applies at runtime, cluster-wide through consensus",
    "dynamic-local": "applies at runtime on this node only, without consensus",
}


def _shown(path: str, value: Any) -> str:
    if value is None:
        return "(unset)"
    shown = redact_value(path, value)
    if shown == "***":
        return "*** (secret)"
    if hasattr(shown, "model_dump"):
        shown = shown.model_dump(mode="json")
    if isinstance(shown, tuple):
        shown = [item.model_dump(mode="json") if hasattr(item, "model_dump") else item
                 for item in shown]
    try:
        return toml_value(redact_any(shown))
    except TypeError:
        return str(shown)


def explain(args: argparse.Namespace) -> int:
    """Everything about one option: type, default, value, source, scope, mutability, unit."""
    key = args.key
    info = registry.option_info(key)
    if info is None:
        if registry.is_section(key):
            return _explain_section(key)
        suggestion = registry.suggest(key)
        raise UsageError(
            f"unknown option '{key}'",
            hint=f"did you mean {suggestion}?" if suggestion else "see `butterfly config defaults`",
        )
    value: str
    source: str
    try:
        config = load_from_args(args, check_paths=False)
        value = _shown(key, config.get_value(key))
        source = _describe_source(config.provenance(key))
    except ConfigError as exc:
        count = sum(1 for i in exc.errors if i.severity == "error") or 1
        value = f"(configuration invalid: {count} error(s); run `butterfly config validate`)"
        source = "-"
    _out(_explain_text(info, value, source))
    return 0


def _describe_source(source: Source) -> str:
    text = source.describe()
    if source.kind == "generated":
        return f"generated ({source.name})"
    return text


def _explain_text(info: OptionInfo, value: str, source: str) -> str:
    rows = [
        ("description", info.description),
        ("type", info.type_label or "-"),
        ("default", _shown(info.path, info.default)),
        ("value", value),
        ("source", source),
        ("scope", info.scope),
        ("mutability", info.mutability),
        ("category", info.category),
    ]
    if info.unit:
        rows.append(("unit", info.unit))
    if info.choices:
        rows.append(("choices", ", ".join(json.dumps(c) for c in info.choices)))
    rows.append(("env", env_name(info.path)))
    rows.append(("changes", _APPLIES[info.category]))
    width = max(len(name) for name, _ in rows)
    return "\n".join([info.path, *(f"  {name.ljust(width)}  {text}" for name, text in rows)])


def _explain_section(section: str) -> int:
    prefix = section + "."
    _out(f"[{section}] is a table; its options:")
    for path, info in registry.options().items():
        if path.startswith(prefix):
            _out(f"  {path}  ({info.category}) {info.description}")
    return 0


# -- diff ------------------------------------------------------------------------------
def diff(args: argparse.Namespace) -> int:
    """Compare two configurations option by option. Exit 0 same, 1 different."""
    given = "given to `config diff` (A.toml B.toml)"
    left = load_from_args(_with_config(args, args.a), check_paths=False, given=given)
    right = load_from_args(_with_config(args, args.b), check_paths=False, given=given)
    changes = left.diff(right)
    if args.format == "json":
        _json({
            "same": not changes,
            "changes": [
                {"path": c.path, "old": redact_value(c.path, c.old),
                 "new": redact_value(c.path, c.new), "category": c.category}
                for c in changes
            ],
        })
    else:
        for change in changes:
            _out(f"{change.path}: {_shown(change.path, change.old)} -> "
                 f"{_shown(change.path, change.new)}  [{change.category}]")
        if changes:
            _out(f"{_count_changes(len(changes))} between {args.a} and {args.b}")
    return 1 if changes else 0


def _count_changes(n: int) -> str:
    return f"{n} option{'s' if n != 1 else ''} differ{'s' if n == 1 else ''}"


def _with_config(args: argparse.Namespace, file: str) -> argparse.Namespace:
    copy = argparse.Namespace(**vars(args))
    copy.config = [file]
    return copy
