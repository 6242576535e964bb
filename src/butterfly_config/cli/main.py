"""Entry point of the `butterfly` command.

The parser is built from stdlib argparse only; each sub-command names its
handler as "module:function" and the module is imported only when that command
runs, so `butterfly --help` never pays for pydantic, FastAPI or cryptography.
A handler takes the parsed namespace and returns the exit code.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence

DEFAULT_API_URL = "http://127.0.0.1:8080"
Handler = Callable[[argparse.Namespace], int]


def _add_loading_args(p: argparse.ArgumentParser, *, config_required: bool = True) -> None:
    """Options shared by every command that loads a configuration (DESIGN 1.8)."""
    p.add_argument(
        "--config",
        action="append",
        default=None,
        metavar="FILE",
        help="configuration file (repeatable; later files win). Default: $BUTTERFLY_CONFIG",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one option (repeatable)",
    )
    p.add_argument("--env-file", action="append", default=[], metavar="FILE",
                   help="KEY=VALUE lines loaded as if exported")
    p.add_argument("--strict", action="store_true",
                   help="unknown keys and unknown BUTTERFLY_* variables are errors")


def _add_remote_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--url", default=None,
                   help=f"node API URL (env BUTTERFLY_API_URL, default {DEFAULT_API_URL})")
    p.add_argument("--token", default=None, help="API token (env BUTTERFLY_API_TOKEN)")
    p.add_argument("--timeout", type=float, default=30.0, help="request timeout in seconds")
    p.add_argument("--format", choices=["text", "json"], default="text")
    p.add_argument("--ca-file", default=None, metavar="FILE",
                   help="CA of the node's certificate (default: system CAs, SSL_CERT_FILE)")
    p.add_argument("--client-cert", default=None, metavar="FILE",
                   help="client certificate for nodes using mTLS (with --client-key)")
    p.add_argument("--client-key", default=None, metavar="FILE",
                   help="private key of --client-cert")


def _cmd(
    sub: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    handler: str,
    help_text: str,
) -> argparse.ArgumentParser:
    p: argparse.ArgumentParser = sub.add_parser(name, help=help_text, description=help_text)
    p.set_defaults(handler=handler)
    return p


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="butterfly",
        description="Configuration system of the Butterfly inference cluster.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    top = parser.add_subparsers(dest="command", metavar="COMMAND")

    # -- start -----------------------------------------------------------------
    p = _cmd(top, "start", "butterfly_config.cli.start_cmd:run", "run one node")
    _add_loading_args(p)
    p.add_argument("--node-id", default=None)
    p.add_argument("--listen-addr", default=None)
    p.add_argument("--log-level", default=None,
                   choices=["trace", "debug", "info", "warn", "error"])

    # -- config ----------------------------------------------------------------
    config = top.add_parser("config", help="load, check, explain and change configuration")
    csub = config.add_subparsers(dest="config_command", metavar="SUBCOMMAND")
    config.set_defaults(handler=None, _group=config)

    p = _cmd(csub, "validate", "butterfly_config.cli.offline:validate",
             "validate a configuration")
    _add_loading_args(p)
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = _cmd(csub, "show", "butterfly_config.cli.offline:show", "show the effective configuration")
    _add_loading_args(p, config_required=False)
    p.add_argument("--sources", action="store_true", help="show where every value came from")
    p.add_argument("--hash", action="store_true", help="print cluster_hash and full_hash")
    p.add_argument("--cluster", action="store_true",
                   help="with --hash: ask the node at --url for every node's revision and hash")
    p.add_argument("--format", choices=["toml", "json"], default="toml")
    p.add_argument("--url", default=None)
    p.add_argument("--token", default=None)

    p = _cmd(csub, "explain", "butterfly_config.cli.offline:explain",
             "explain one option: type, default, scope, mutability, value and source")
    p.add_argument("key")
    _add_loading_args(p)

    p = _cmd(csub, "defaults", "butterfly_config.cli.schema_cmds:defaults",
             "print every option's default")
    p.add_argument("--output", default=None, metavar="FILE")

    p = _cmd(csub, "init", "butterfly_config.cli.schema_cmds:init",
             "write an annotated template that validates")
    p.add_argument("--output", required=True, metavar="FILE")
    p.add_argument("--force", action="store_true", help="overwrite an existing file")

    p = _cmd(csub, "schema", "butterfly_config.cli.schema_cmds:schema",
             "write the JSON Schema for editors")
    p.add_argument("--output", default=None, metavar="FILE")

    p = _cmd(csub, "diff", "butterfly_config.cli.offline:diff",
             "compare two configurations (exit 0 same, 1 different)")
    p.add_argument("a", metavar="A.toml")
    p.add_argument("b", metavar="B.toml")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--env-file", action="append", default=[], metavar="FILE")
    p.add_argument("--strict", action="store_true")
    p.add_argument("--format", choices=["text", "json"], default="text")

    p = _cmd(csub, "export", "butterfly_config.cli.remote:export",
             "write the node's current effective configuration")
    p.add_argument("--output", required=True, metavar="FILE")
    _add_remote_args(p)

    p = _cmd(csub, "update", "butterfly_config.cli.remote:update",
             "change the running cluster's configuration")
    group = p.add_mutually_exclusive_group(required=True)
    group.add_argument("--key")
    group.add_argument("--file", metavar="F", help="a TOML file with the options to change")
    p.add_argument("--value")
    _add_remote_args(p)

    p = _cmd(csub, "history", "butterfly_config.cli.remote:history", "list committed revisions")
    p.add_argument("--limit", type=int, default=20)
    p.add_argument("--local", action="store_true", help="this node's dynamic-local changes")
    _add_remote_args(p)

    p = _cmd(csub, "rollback", "butterfly_config.cli.remote:rollback",
             "commit a new revision equal to an earlier one")
    # dest differs from the top-level --version flag, which would otherwise be overwritten.
    p.add_argument("--version", dest="target_version", required=True,
                   help="revision number, hash prefix or metadata.config_version "
                        "(refused when revisions of different contents carry it)")
    _add_remote_args(p)

    p = _cmd(csub, "sync", "butterfly_config.cli.remote:sync", "catch up from peers now")
    _add_remote_args(p)

    p = _cmd(csub, "migrate", "butterfly_config.cli.migrate_cmd:migrate",
             "convert a configuration from an older layout")
    p.add_argument("--from", dest="from_version", required=True, metavar="X")
    p.add_argument("--to", dest="to_version", required=True, metavar="Y")
    p.add_argument("--input", required=True, metavar="OLD")
    p.add_argument("--output", required=True, metavar="NEW")
    p.add_argument("--dry-run", action="store_true")

    p = _cmd(csub, "check-compatibility", "butterfly_config.cli.migrate_cmd:check_compatibility",
             "check a configuration against a cluster version")
    _add_loading_args(p)
    p.add_argument("--cluster-version", required=True, metavar="X.Y.Z")

    # -- cluster ---------------------------------------------------------------
    cluster = top.add_parser("cluster", help="inspect the running cluster")
    clsub = cluster.add_subparsers(dest="cluster_command", metavar="SUBCOMMAND")
    cluster.set_defaults(handler=None, _group=cluster)
    p = _cmd(clsub, "status", "butterfly_config.cli.remote:status",
             "members, view, coordinator, each node's revision and hash")
    _add_remote_args(p)
    p = _cmd(clsub, "reset-reputation", "butterfly_config.cli.remote:reset_reputation",
             "lift the isolation of a member: its reputation starts afresh on the node at "
             "--url (each node judges reputation itself)")
    p.add_argument("node_id", metavar="NODE_ID", help="the member to lift the isolation of")
    p.add_argument("--all", action="store_true",
                   help="ask every member listed in the cluster status of the node at --url")
    _add_remote_args(p)

    # -- keys / token ----------------------------------------------------------
    keys = top.add_parser("keys", help="signing keys")
    ksub = keys.add_subparsers(dest="keys_command", metavar="SUBCOMMAND")
    keys.set_defaults(handler=None, _group=keys)
    p = _cmd(ksub, "generate", "butterfly_config.cli.keys_cmd:generate",
             "generate a signing key pair")
    p.add_argument("--output-dir", required=True, metavar="DIR")
    p.add_argument("--algorithm", choices=["ed25519", "ecdsa_p256"], default="ed25519")
    p.add_argument("--name", default="signing", help="file name stem (default: signing)")

    token = top.add_parser("token", help="API tokens")
    tsub = token.add_subparsers(dest="token_command", metavar="SUBCOMMAND")
    token.set_defaults(handler=None, _group=token)
    p = _cmd(tsub, "create", "butterfly_config.cli.keys_cmd:create_token", "create a JWT")
    p.add_argument("--secret-file", required=True, metavar="F")
    p.add_argument("--subject", required=True, metavar="S")
    p.add_argument("--role", required=True, action="append", metavar="R")
    p.add_argument("--ttl", type=int, default=3600, metavar="SECONDS")
    p.add_argument("--issuer", default="butterfly-cluster")
    p.add_argument("--audience", default="butterfly-api")

    # -- dev -------------------------------------------------------------------
    dev = top.add_parser("dev", help="local development cluster")
    dsub = dev.add_subparsers(dest="dev_command", metavar="SUBCOMMAND")
    dev.set_defaults(handler=None, _group=dev)
    p = _cmd(dsub, "up", "butterfly_config.cli.dev_cmd:up", "start a local cluster on 127.0.0.1")
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--dir", default=".dev-cluster")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--base-port", type=int, default=7890, help="first peer port")
    p.add_argument("--api-base-port", type=int, default=8080, help="first API port")
    p.add_argument("--detach", action="store_true",
                   help="start the nodes and return; stop them later with `kill` of the pids file")

    p = _cmd(dsub, "down", "butterfly_config.cli.dev_cmd:down",
             "stop a dev cluster started with --detach")
    p.add_argument("--dir", default=".dev-cluster")

    # -- sim -------------------------------------------------------------------
    p = _cmd(top, "sim", "butterfly_config.cli.sim_cmd:run",
             "run the deterministic consensus simulator over many seeds")
    p.add_argument("--nodes", type=int, default=4)
    p.add_argument("--faulty", type=int, default=1)
    p.add_argument("--seeds", type=int, default=100)
    p.add_argument("--seed-start", type=int, default=0)
    p.add_argument("--byzantine", default="all")
    p.add_argument("--network", choices=["calm", "hostile"], default="hostile")
    p.add_argument("--json", action="store_true")
    p.add_argument("--trace", action="store_true", help="print the trace of every failing seed")
    return parser


def _resolve(spec: str) -> Handler:
    module_name, func_name = spec.split(":")
    module = importlib.import_module(module_name)
    handler: Handler = getattr(module, func_name)
    return handler


def _apply_env_defaults(args: argparse.Namespace) -> None:
    if hasattr(args, "config") and not args.config:
        env_config = os.environ.get("BUTTERFLY_CONFIG")
        args.config = [env_config] if env_config else []
    if hasattr(args, "url") and args.url is None:
        args.url = os.environ.get("BUTTERFLY_API_URL", DEFAULT_API_URL)
    if hasattr(args, "token") and args.token is None:
        args.token = os.environ.get("BUTTERFLY_API_TOKEN")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from importlib.metadata import version

        print(f"butterfly-config {version('butterfly-config')}")
        return 0
    spec = getattr(args, "handler", None)
    if spec is None:
        group = getattr(args, "_group", parser)
        group.print_help(sys.stderr)
        return 2
    _apply_env_defaults(args)
    from butterfly_config.errors import ButterflyError

    try:
        return _resolve(spec)(args)
    except ButterflyError as exc:
        print(exc.render(), file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
