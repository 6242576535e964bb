"""Commands that talk to a running node: export, update, history, rollback, sync, status,
reset-reputation.

`config update --file F` sends the file's leaves as PATCH `set` operations:
the file lists the options to change, and options it does not mention keep
their current values. (POST /api/v1/config, which replaces the whole cluster
configuration and resets unmentioned options to their defaults, is left to
API clients that mean exactly that.)

Exit codes follow DESIGN 1.8 through the client's error types: 1 when the
node refused the change, 2 for usage, file and connection problems and for
refused credentials.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import tomllib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import orjson

from butterfly_config import input_files, toml_text
from butterfly_config.client import ButterflyClient
from butterfly_config.errors import (
    ButterflyError,
    ConfigIOError,
    ConfigIssue,
    ConfigSyntaxError,
    UsageError,
)

HASH_PREFIX = 12


def _client(args: argparse.Namespace) -> ButterflyClient:
    """A client per the remote options; TLS files are checked here for a clear error."""
    ca_file = getattr(args, "ca_file", None)
    cert_file = getattr(args, "client_cert", None)
    key_file = getattr(args, "client_key", None)
    if key_file and not cert_file:
        raise UsageError("--client-key needs --client-cert")
    for option, value in (("--ca-file", ca_file), ("--client-cert", cert_file),
                          ("--client-key", key_file)):
        if value and not Path(value).is_file():
            raise ConfigIOError(f"{value}: file not found", hint=f"check {option}")
    cert: str | tuple[str, str] | None = None
    if cert_file:
        cert = (cert_file, key_file) if key_file else cert_file
    return ButterflyClient(args.url, token=args.token or None, timeout=args.timeout,
                           verify=ca_file or True, cert=cert)


def _print_json(value: Any) -> None:
    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
                     .decode() + "\n")


def _short(value: object) -> str:
    return str(value)[:HASH_PREFIX] if value else "-"


# -- export -----------------------------------------------------------------------
def export(args: argparse.Namespace) -> int:
    """Write the node's effective configuration (TOML, secrets redacted) atomically."""
    with _client(args) as client:
        text, revision, _etag = client.get(format="toml")
    assert isinstance(text, str)
    if args.output == "-":
        sys.stdout.write(text)
        return 0
    write_atomically(Path(args.output), text)
    if args.format == "json":
        _print_json({"output": args.output, "revision": revision})
    else:
        print(f"wrote {args.output} (revision {revision})")
    return 0


def write_atomically(path: Path, text: str) -> None:
    """Write via a temporary file in the same directory and rename, so readers see old or new."""
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ConfigIOError(f"{path}: directory {directory} does not exist",
                            hint="create it first or choose another --output")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigIOError(f"{path}: cannot write: {exc.strerror or exc}") from None


# -- update -----------------------------------------------------------------------
parse_value = toml_text.value_or_text
"""A command-line value as TOML (`4`, `true`, `[0, 1]`, `"x"`), else the plain string."""


def _file_operations(path: Path) -> list[dict[str, Any]]:
    try:
        text = input_files.read_text(path)
    except FileNotFoundError:
        raise ConfigIOError(f"{path}: file not found", hint="check the --file path") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigIOError(f"{path}: cannot read: {exc}") from None
    try:
        document = toml_text.loads(text)
    except tomllib.TOMLDecodeError as exc:
        line = getattr(exc, "lineno", None)
        issue = ConfigIssue(path="", message=f"not valid TOML: {exc}", rule="toml-syntax",
                            file=str(path), line=line)
        raise ConfigSyntaxError(f"{path}: not valid TOML", [issue]) from None
    leaves = flatten_leaves(document)
    if not leaves:
        raise UsageError(f"{path}: the file sets no options", hint="write e.g. [scheduling]\n"
                         '  policy = "least_loaded"')
    return [{"op": "set", "path": p, "value": v} for p, v in leaves.items()]


def flatten_leaves(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted leaf paths of a TOML document; the schema says which tables are leaves.

    `[include]` is a loading directive, not configuration, and is skipped.
    """
    from butterfly_config.schema import registry

    out: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if path == "include":
            continue
        if isinstance(value, dict) and registry.option_info(path) is None:
            out.update(flatten_leaves(value, f"{path}."))
        else:
            out[path] = value
    return out


def update(args: argparse.Namespace) -> int:
    if args.key is not None:
        if args.value is None:
            raise UsageError("--key needs --value",
                             hint="butterfly config update --key K --value V")
        operations = [{"op": "set", "path": args.key, "value": parse_value(args.value)}]
    else:
        if args.value is not None:
            raise UsageError("--value goes with --key, not with --file")
        operations = _file_operations(Path(args.file))
    with _client(args) as client:
        result = client.patch(operations)
    if args.format == "json":
        _print_json(result)
        return 0
    changed = ", ".join(result.get("changed_paths") or []) or "nothing (values were already set)"
    if result.get("scope") == "local":
        print(f"applied on this node only (dynamic-local, no cluster revision): {changed}")
    else:
        print(f"committed revision {result.get('revision')} "
              f"cluster_hash {result.get('cluster_hash')}")
        print(f"changed: {changed}")
    return 0


# -- history ----------------------------------------------------------------------
def _when(entry: dict[str, Any]) -> str:
    for key in ("timestamp", "applied_at", "committed_at", "time"):
        value = entry.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, str) and value:
            return value
    return "-"


def _changed_paths(entry: dict[str, Any]) -> list[str]:
    paths = entry.get("changed_paths")
    if isinstance(paths, list):
        return [str(p) for p in paths]
    changes = entry.get("changes")
    if isinstance(changes, list):
        return [str(c.get("path")) for c in changes if isinstance(c, dict)]
    return []


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines)


def _abbreviated(paths: list[str], limit: int = 3) -> str:
    if not paths:
        return "-"
    shown = ", ".join(paths[:limit])
    return shown + (f" (+{len(paths) - limit} more)" if len(paths) > limit else "")


def history(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    with _client(args) as client:
        entries = client.history(limit=args.limit, scope="local" if args.local else "cluster")
    if args.format == "json":
        _print_json(entries)
        return 0
    if not entries:
        print("no local changes" if args.local else "no revisions")
        return 0
    rows = [[str(e.get("revision", e.get("seq", "-"))), _when(e), str(e.get("action") or "-"),
             str(e.get("initiator") or e.get("proposer") or "-"),
             _abbreviated(_changed_paths(e)), _short(e.get("cluster_hash"))] for e in entries]
    # local changes are numbered per node, not cluster revisions
    first = "CHANGE" if args.local else "REVISION"
    print(_table([first, "TIME (UTC)", "ACTION", "INITIATOR", "CHANGED", "HASH"], rows))
    return 0


# -- rollback / sync --------------------------------------------------------------
def rollback(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.rollback(args.target_version)
    if args.format == "json":
        _print_json(result)
    else:
        if result.get("note"):
            print(f"note: {result['note']}")
        target = result.get("target_revision")
        named = args.target_version
        if target is not None and str(target) != named.strip():
            named += f" (revision {target})"
        print(f"rolled back to {named}: committed revision {result.get('revision')} "
              f"cluster_hash {result.get('cluster_hash')}")
    return 0


def sync(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.sync()
    if args.format == "json":
        _print_json(result)
        return 0
    details = ", ".join(f"{k}: {v}" for k, v in result.items()
                        if isinstance(v, str | int | float | bool) and k != "cluster_hash")
    print(f"synced: {details}" if details else "synced")
    if result.get("cluster_hash"):
        print(f"cluster_hash {result['cluster_hash']}")
    return 0


# -- cluster status ---------------------------------------------------------------
def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    return "-" if value is None else str(value)


def status(args: argparse.Namespace) -> int:
    with _client(args) as client:
        result = client.status()
    if args.format == "json":
        _print_json(result)
        return 0
    print(f"view {result.get('view', '-')}  coordinator {result.get('coordinator') or '-'}  "
          f"revision {result.get('revision', '-')}  "
          f"cluster_hash {_short(result.get('cluster_hash'))}")
    nodes = [n for n in result.get("nodes", []) if isinstance(n, dict)]
    rows = [[str(n.get("node_id", "-")), str(n.get("addr", "-")), str(n.get("state", "-")),
             _number(n.get("revision")), _short(n.get("cluster_hash")), _number(n.get("phi")),
             _number(n.get("reputation")), ", ".join(n.get("restart_required") or []) or "-"]
            for n in nodes]
    print(_table(["NODE", "ADDR", "STATE", "REVISION", "HASH", "PHI", "REPUTATION",
                  "RESTART REQUIRED"], rows))
    for n in nodes:
        if n.get("not_ready"):
            print(f"{n.get('node_id')}: not ready: {n['not_ready']}", file=sys.stderr)
        if n.get("reload_error"):
            print(f"{n.get('node_id')}: edited config file not applied: {n['reload_error']}",
                  file=sys.stderr)
    for found in result.get("divergence") or []:
        if isinstance(found, dict):
            print(f"evidence: {found.get('peer')} announced cluster_hash "
                  f"{_short(found.get('peer_cluster_hash'))} for revision {found.get('revision')}, "
                  f"committed here as {_short(found.get('committed_cluster_hash'))}",
                  file=sys.stderr)
    if result.get("established") is False:
        print(f"view change to view {result.get('view')} in progress", file=sys.stderr)
    hashes = {n.get("cluster_hash") for n in nodes if n.get("state") == "ready"}
    if len(hashes) > 1:
        print("warning: ready nodes report different cluster hashes", file=sys.stderr)
    return 0


# -- cluster reset-reputation -------------------------------------------------------
def _node_url(base_url: str, api_addr: str) -> str:
    """A member's API URL: its api_addr with the scheme of --url."""
    scheme = urlsplit(base_url).scheme or "http"
    return f"{scheme}://{api_addr}"


def _targets(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(node, url) of every member the node at --url lists in its cluster status."""
    with _client(args) as client:
        result = client.status()
    asked = str(result.get("node_id") or "")
    targets: list[tuple[str, str]] = []
    for node in result.get("nodes") or []:
        if not isinstance(node, dict) or not node.get("node_id"):
            continue
        node_id = str(node["node_id"])
        # the node at --url as the operator reached it; the others at their api_addr
        url = args.url if node_id == asked else _node_url(args.url, str(node.get("api_addr") or ""))
        targets.append((node_id, url))
    if not targets:
        raise UsageError(f"the node at {args.url} lists no members",
                         hint="check `butterfly cluster status --url ...`")
    return targets


def _reset_on(args: argparse.Namespace, url: str) -> dict[str, Any]:
    with _client(argparse.Namespace(**{**vars(args), "url": url})) as client:
        return client.reset_reputation(args.node_id)


def _reset_line(member: str, result: dict[str, Any]) -> str:
    return (f"{result.get('node_id', '-')}: {member} reputation "
            f"{_number(result.get('previous_reputation'))} ({result.get('previous_state', '-')})"
            f" -> {_number(result.get('reputation'))} ({result.get('state', '-')})")


def reset_reputation(args: argparse.Namespace) -> int:
    """Lift the isolation of a member on the node at --url, or with --all on every member.

    Each node judges reputation itself, so a cluster-wide lift asks every node.
    With --all a node that cannot be asked does not stop the others; the exit
    code is the worst one: 2 if any node could not be reached or refused the
    credentials, else 1 if any refused (an unknown member), else 0.
    """
    if not args.all:
        result = _reset_on(args, args.url)
        if args.format == "json":
            _print_json(result)
        else:
            print(_reset_line(args.node_id, result))
        return 0
    outcomes: list[dict[str, Any]] = []
    worst = 0
    for node_id, url in _targets(args):
        try:
            if not urlsplit(url).hostname:
                raise UsageError(f"no API address is configured for {node_id}",
                                 hint="set api_addr in its [[cluster.members]] entry")
            result = _reset_on(args, url)
        except ButterflyError as exc:
            worst = max(worst, exc.exit_code)
            outcomes.append({"node_id": node_id, "url": url, "success": False,
                             "exit_code": exc.exit_code, "error": exc.render()})
            if args.format != "json":
                print(f"{node_id}: {exc.render()}", file=sys.stderr)
            continue
        outcomes.append({"url": url, "success": True, **result})
        if args.format != "json":
            print(_reset_line(args.node_id, result))
    if args.format == "json":
        _print_json(outcomes)
    return worst
