"""Real node processes on 127.0.0.1 for the integration tests.

`LocalCluster` writes a dev cluster (keys, secrets, policy, one config per
node) with free ports, starts one `butterfly start` process per node, and
stops every process it started, paused ones included, whatever the test did.
Every wait is bounded; a timeout fails with what was last seen and the tail of
each node's log.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import ssl
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from butterfly_config.cli.dev_cmd import (
    DevNode,
    create_cluster_files,
    plan_free_layout,
)
from butterfly_config.client import ButterflyClient
from butterfly_config.consensus.encoding import decode
from butterfly_config.consensus.messages import CommitCertificate, Decided, Entry
from butterfly_config.node.transport import PARTITION_PATH
from butterfly_config.sources.toml_edit import set_options

LOOPBACK = "127.0.0.1"
READY_TIMEOUT_S = 30.0
T = TypeVar("T")


@dataclass
class LocalCluster:
    """A cluster of real node processes; use as a context manager or call stop()."""

    root: Path
    size: int = 4
    tls: bool = False
    env: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    node_env: dict[int, dict[str, str]] = field(default_factory=dict)
    procs: dict[int, subprocess.Popen[bytes]] = field(default_factory=dict)
    paused: set[int] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.layout = plan_free_layout(self.root, self.size, tls=self.tls)
        self._clients: dict[int, ButterflyClient] = {}

    # -- lifecycle ------------------------------------------------------------------
    def write(self) -> None:
        create_cluster_files(self.layout)
        if self.options:
            for node in self.layout.nodes:
                set_options(node.config_path, self.options)

    def start(self, wait: bool = True) -> LocalCluster:
        if not (self.layout.root / "dev-cluster.json").exists():
            self.write()
        for node in self.layout.nodes:
            self.start_node(node.index, wait=False)
        if wait:
            for node in self.layout.nodes:
                self.wait_ready(node.index)
        return self

    def start_node(self, index: int, wait: bool = True) -> None:
        node = self.layout.nodes[index]
        env = dict(os.environ)
        env.update({"BUTTERFLY_TEST_HOOKS": "1", "NO_PROXY": "*"})
        env.update(self.env)
        env.update(self.node_env.get(index, {}))
        stderr = (node.home / "stderr.log").open("ab")
        self.procs[index] = subprocess.Popen(
            [sys.executable, "-m", "butterfly_config", "start", "--config", str(node.config_path)],
            stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr, env=env,
            start_new_session=True,
        )
        stderr.close()
        self.paused.discard(index)
        if wait:
            self.wait_ready(index)

    def stop(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        for index in list(self.procs):
            self.stop_node(index)

    def stop_node(self, index: int, sig: int = signal.SIGTERM) -> int | None:
        proc = self.procs.pop(index, None)
        if proc is None:
            return None
        if index in self.paused:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGCONT)
            self.paused.discard(index)
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
        try:
            return proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait(5)

    def kill(self, index: int) -> None:
        self.stop_node(index, signal.SIGKILL)

    def pause(self, index: int) -> None:
        os.kill(self.procs[index].pid, signal.SIGSTOP)
        self.paused.add(index)

    def resume(self, index: int) -> None:
        os.kill(self.procs[index].pid, signal.SIGCONT)
        self.paused.discard(index)

    def restart(self, index: int) -> None:
        self.stop_node(index)
        self.start_node(index)

    def heal(self, timeout: float = 30.0) -> tuple[int, str]:
        """Undo what a test did: resume paused nodes, start stopped ones, lift the
        test-hook partitions; then wait until every node agrees."""
        for index in range(self.size):
            if index in self.paused:
                self.resume(index)
            if index not in self.running():
                self.start_node(index)
        self.cut_off(None, check=False)
        return self.wait_converged(timeout=timeout)

    def cut_off(self, minority: int | None, *, check: bool = True) -> None:
        """Test-hook partition: node `minority` and the rest drop each other's traffic;
        None lifts every partition."""
        ids = [n.node_id for n in self.layout.nodes]
        with self.http() as http:
            for index in range(self.size):
                if minority is None:
                    blocked: list[str] = []
                elif index == minority:
                    blocked = [i for i in ids if i != ids[minority]]
                else:
                    blocked = [ids[minority]]
                response = http.post(self.peer_url(index) + PARTITION_PATH,
                                     json={"blocked": blocked})
                if check:
                    response.raise_for_status()

    def __enter__(self) -> LocalCluster:
        try:
            return self.start()
        except BaseException:
            self.stop()  # a node that failed to start must not leave the others running
            raise

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    # -- access ---------------------------------------------------------------------
    @property
    def token(self) -> str:
        return self.layout.token_path.read_text(encoding="utf-8").strip()

    def node(self, index: int) -> DevNode:
        return self.layout.nodes[index]

    def url(self, index: int) -> str:
        return self.node(index).api_url_for(tls=self.tls)

    def peer_url(self, index: int) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{self.node(index).peer_addr}"

    def verify(self) -> str | bool:
        return str(self.layout.ca_path) if self.tls else False

    def client(self, index: int, timeout: float = 15.0) -> ButterflyClient:
        if index not in self._clients:
            self._clients[index] = ButterflyClient(
                self.url(index), token=self.token, timeout=timeout, verify=self.verify(),
            )
        return self._clients[index]

    def http(self, timeout: float = 10.0) -> httpx.Client:
        verify: ssl.SSLContext | bool = (
            ssl.create_default_context(cafile=str(self.layout.ca_path)) if self.tls else False)
        return httpx.Client(timeout=timeout, verify=verify, trust_env=False)

    def running(self) -> list[int]:
        return [i for i, p in self.procs.items() if p.poll() is None and i not in self.paused]

    def log_tail(self, index: int, lines: int = 30) -> str:
        node = self.node(index)
        parts = []
        for path in (node.home / "log" / "node.log", node.home / "stderr.log"):
            with contextlib.suppress(OSError):
                text = path.read_text(encoding="utf-8", errors="replace").splitlines()
                parts.append(f"--- {path} ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    def store_path(self, index: int) -> Path:
        return self.node(index).home / "data" / "config" / "history.db"

    def audit(self, index: int) -> list[dict[str, Any]]:
        """The node's audit log, oldest first, read from its store (read-only, WAL-safe)."""
        uri = f"file:{self.store_path(index)}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            rows = conn.execute(
                "SELECT actor, action, outcome, detail FROM audit ORDER BY seq").fetchall()
        return [{"actor": r[0], "action": r[1], "outcome": r[2], "detail": json.loads(r[3])}
                for r in rows]

    def stored_history(self, index: int) -> list[Decided]:
        """The committed revisions in a node's store, with their certificates (read-only)."""
        uri = f"file:{self.store_path(index)}?mode=ro"
        with contextlib.closing(sqlite3.connect(uri, uri=True, timeout=5.0)) as conn:
            rows = conn.execute(
                "SELECT revision, parent_digest, doc_hash, request_id, proposer, initiator, "
                "document, entry_digest, certificate FROM revisions ORDER BY revision").fetchall()
        return [Decided(Entry(r[0], r[1], r[2], r[3], r[4], r[5], bytes(r[6]), r[7]),
                        decode(bytes(r[8]), CommitCertificate) if r[8] else None) for r in rows]

    def log_text(self, index: int) -> str:
        """The whole of a node's log file (it spans restarts: slice from a saved length)."""
        path = self.node(index).home / "log" / "node.log"
        try:
            return path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    def logs(self) -> str:
        return "\n".join(self.log_tail(i) for i in range(self.size))

    # -- waiting --------------------------------------------------------------------
    def wait_ready(self, index: int, timeout: float = READY_TIMEOUT_S) -> None:
        proc = self.procs[index]
        deadline = time.monotonic() + timeout
        with self.http(timeout=1.0) as http:
            while time.monotonic() < deadline:
                if proc.poll() is not None:
                    raise AssertionError(
                        f"node-{index} exited with {proc.returncode}\n{self.log_tail(index)}")
                with contextlib.suppress(httpx.HTTPError):
                    if http.get(f"{self.url(index)}/readyz").status_code == 200:
                        return
                time.sleep(0.05)
        raise AssertionError(f"node-{index} not ready after {timeout}s\n{self.log_tail(index)}")

    def wait_for(self, what: str, probe: Callable[[], T | None], timeout: float = 20.0,
                 interval: float = 0.05) -> T:
        """Poll `probe` until it returns something truthy; fail naming `what` otherwise."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            try:
                last = probe()
            except Exception as exc:  # a node mid-restart answers with errors; keep polling
                last = exc
            else:
                if last:
                    return last
            time.sleep(interval)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}\n"
                             f"{self.logs()}")

    def revision_and_hash(self, index: int) -> tuple[int, str]:
        with self.http(timeout=2.0) as http:
            response = http.get(f"{self.url(index)}/api/v1/config",
                                headers={"Authorization": f"Bearer {self.token}"})
            response.raise_for_status()
            return (int(response.headers["x-config-revision"]),
                    response.headers["etag"].strip('"'))

    def wait_converged(self, indices: list[int] | None = None, at_least: int = 0,
                       timeout: float = 20.0) -> tuple[int, str]:
        """Wait until the given nodes (default: all running) share one revision and hash."""
        def probe() -> tuple[int, str] | None:
            views = {self.revision_and_hash(i) for i in (indices or self.running())}
            if len(views) == 1:
                view = views.pop()
                return view if view[0] >= at_least else None
            return None
        return self.wait_for(f"nodes {indices or self.running()} to converge (>= {at_least})",
                             probe, timeout)
