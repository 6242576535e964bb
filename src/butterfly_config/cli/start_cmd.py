"""`butterfly start`: run one node until SIGTERM or SIGINT."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from pathlib import Path

from butterfly_config.errors import ButterflyError, UsageError

log = logging.getLogger("butterfly.node")


def run(args: argparse.Namespace) -> int:
    from butterfly_config.loader import load_from_args
    from butterfly_config.node.logging_setup import apply_logging
    from butterfly_config.node.runtime import NodeRuntime, log_settings

    if not args.config:
        raise UsageError("start needs a configuration file", hint="pass --config FILE "
                         "or set BUTTERFLY_CONFIG")
    config = load_from_args(args)
    for warning in config.warnings:
        print(warning.render(), file=sys.stderr)
    apply_logging(log_settings(config))
    _remember_node_id(config.data_dir, str(config.model.node.node_id))
    runtime = NodeRuntime(
        base=config,
        reload=lambda: load_from_args(args),
        config_paths=[Path(p) for p in args.config],
        env_files=[Path(p) for p in getattr(args, "env_file", None) or []],
    )
    runtime.build()
    # Everything built so far (schema, models, keys, history) lives as long as the
    # node: keep it out of the collector's generations so that collections during
    # agreement only walk what the requests allocate.
    gc.collect()
    gc.freeze()
    import uvloop

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_serve(runtime))


async def _serve(runtime: object) -> int:
    from butterfly_config.node.runtime import NodeRuntime

    assert isinstance(runtime, NodeRuntime)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        return await runtime.run(stop)
    except ButterflyError:
        raise
    except OSError as exc:
        raise UsageError(f"the node could not start: {exc}") from exc


def _remember_node_id(data_dir: str, node_id: str) -> None:
    """Keep a generated node id stable across restarts (the loader reads this file)."""
    path = Path(data_dir) / "node_id"
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(node_id + "\n", encoding="utf-8")
    except OSError as exc:
        log.warning("could not record the node id in %s: %s", path, exc)
