"""The node processes of a dev cluster: start them, wait until ready, stop them.

A detached cluster's process ids are kept in `pids.json`. Before a process
named there is signalled, it is checked to be one of this cluster's nodes
(its command line runs `butterfly_config start` with one of the cluster's
config files): after a reboot or a crash the ids in a stale file may belong to
unrelated processes, which must never be killed.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from butterfly_config.errors import ConfigIOError

if TYPE_CHECKING:
    from butterfly_config.cli.dev_cmd import DevLayout

READY_TIMEOUT_S = 30.0
_PROC = Path("/proc")


def ports_in_use(layout: DevLayout) -> list[str]:
    """The cluster's peer and API addresses that something already listens on.

    Checked before starting: a node that cannot bind exits, but another cluster
    on the same ports answers /readyz, and would be taken for this one.
    """
    from butterfly_config.node.servers import bind_socket  # binds as the node will

    taken: list[str] = []
    for node in layout.nodes:
        for addr, what in ((node.peer_addr, "peer"), (node.api_addr, "API")):
            try:
                bind_socket(addr, what).close()
            except ConfigIOError:
                taken.append(f"{addr} ({node.node_id} {what})")
    return taken


def start_nodes(layout: DevLayout) -> list[subprocess.Popen[bytes]]:
    """One `butterfly start` process per node, their ids written to `pids.json`."""
    procs: list[subprocess.Popen[bytes]] = []
    env = dict(os.environ)
    for node in layout.nodes:
        stderr = (node.home / "stderr.log").open("ab")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "butterfly_config", "start", "--config",
                 str(node.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=stderr,
                stderr=stderr,
                env=env,
                start_new_session=True,
            )
        )
    layout.pids_path.write_text(json.dumps([p.pid for p in procs]) + "\n", encoding="utf-8")
    return procs


def wait_ready(layout: DevLayout, procs: list[subprocess.Popen[bytes]]) -> None:
    """Until every node answers /readyz 200; a node that exits or stays unready is an error."""
    import httpx

    verify: str | bool = str(layout.ca_path) if layout.tls else False
    deadline = time.monotonic() + READY_TIMEOUT_S
    pending = {n.node_id: n for n in layout.nodes}
    with httpx.Client(timeout=1.0, verify=verify) as client:
        while pending and time.monotonic() < deadline:
            for proc, node in zip(procs, layout.nodes, strict=True):
                if proc.poll() is not None:
                    log_file = node.home / "log" / "node.log"
                    raise ConfigIOError(
                        f"{node.node_id} exited with code {proc.returncode} during start-up",
                        hint=f"see {node.home / 'stderr.log'} and {log_file}",
                    )
            for node_id, node in list(pending.items()):
                try:
                    if client.get(f"{node.api_url_for(tls=layout.tls)}/readyz").status_code == 200:
                        del pending[node_id]
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
    if pending:
        raise ConfigIOError(
            f"nodes not ready after {READY_TIMEOUT_S:.0f}s: {', '.join(sorted(pending))}",
            hint=f"see the logs under {layout.root}",
        )


def stop_processes(procs: list[subprocess.Popen[bytes]], timeout_s: float = 10.0) -> None:
    """SIGTERM the processes this command started; SIGKILL what outlives `timeout_s`."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for proc in procs:
        remaining = max(0.1, deadline - time.monotonic())
        try:
            proc.wait(remaining)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def running_nodes(layout: DevLayout) -> list[int]:
    """The ids in `pids.json` that are still this cluster's running nodes."""
    try:
        pids = [int(p) for p in json.loads(layout.pids_path.read_text(encoding="utf-8"))]
    except (OSError, ValueError, TypeError):
        return []
    configs = {str(node.config_path) for node in layout.nodes}
    return [pid for pid in pids if _is_node_of(pid, configs)]


def stop_running(layout: DevLayout, timeout_s: float = 10.0) -> int:
    """Stop the cluster's nodes listed in `pids.json`; returns how many were running."""
    pids = running_nodes(layout)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    for pid in pids:
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    layout.pids_path.unlink(missing_ok=True)
    return len(pids)


def _is_node_of(pid: int, configs: set[str]) -> bool:
    if pid <= 0:
        return False
    if not _PROC.is_dir():  # no /proc to ask (not Linux): trust the file, as `kill` would
        return _alive(pid)
    try:
        args = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    words = [a.decode("utf-8", "replace") for a in args]
    return "butterfly_config" in words and "start" in words and any(w in configs for w in words)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
