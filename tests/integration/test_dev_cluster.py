"""`butterfly dev up --detach` and `dev down` as operators run them: real processes on
127.0.0.1, every one stopped.

Running `dev up` on a directory whose cluster is still running is refused (it used
to stop that cluster's nodes from under the session that started them), and
`dev down` only signals processes that are this cluster's nodes: after a reboot
the ids in a stale pids.json may belong to anything.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

NODES = 4
COMMAND_TIMEOUT_S = 90


def _free_run(count: int) -> int:
    """A base port such that base .. base+count-1 are free on 127.0.0.1 right now."""
    for _ in range(200):
        base = random.randrange(20000, 60000 - count)
        sockets: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError("no run of free ports found")


def butterfly(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "butterfly_config", *args],
                          capture_output=True, text=True, timeout=COMMAND_TIMEOUT_S,
                          stdin=subprocess.DEVNULL)


@pytest.fixture
def cluster_dir(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """A directory for a detached dev cluster, its `dev up` ports, and a stop at the end."""
    root = tmp_path / "dev"
    ports = ["--base-port", str(_free_run(NODES)),
             "--api-base-port", str(_free_run(NODES + 1000))]
    try:
        yield root, ports
    finally:
        pids = root / "pids.json"
        if pids.exists():
            butterfly("dev", "down", "--dir", str(root))


def _statuses(output: str) -> list[int]:
    urls = [line.split("api ", 1)[1].split()[0] for line in output.splitlines()
            if line.strip().startswith("node-")]
    assert len(urls) == NODES, output
    with httpx.Client(timeout=5, trust_env=False) as client:
        return [client.get(f"{url}/healthz").status_code for url in urls]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_up_refuses_a_running_cluster_and_down_stops_it(
        cluster_dir: tuple[Path, list[str]]) -> None:
    root, ports = cluster_dir
    up = butterfly("dev", "up", "--nodes", str(NODES), "--dir", str(root), "--detach", *ports)
    assert up.returncode == 0, up.stdout + up.stderr
    assert _statuses(up.stdout) == [200] * NODES
    pids = json.loads((root / "pids.json").read_text(encoding="utf-8"))

    again = butterfly("dev", "up", "--nodes", str(NODES), "--dir", str(root), "--detach")
    assert again.returncode == 2
    assert "is already running" in again.stderr and "dev down --dir" in again.stderr
    assert "Traceback" not in again.stderr
    assert all(_alive(pid) for pid in pids)  # the running cluster was left alone
    assert _statuses(up.stdout) == [200] * NODES

    down = butterfly("dev", "down", "--dir", str(root))
    assert down.returncode == 0
    assert f"stopped {NODES} node process(es)" in down.stdout
    assert not any(_alive(pid) for pid in pids)
    assert not (root / "pids.json").exists()


def test_a_stale_pids_file_never_signals_other_processes(
        cluster_dir: tuple[Path, list[str]]) -> None:
    root, ports = cluster_dir
    up = butterfly("dev", "up", "--nodes", str(NODES), "--dir", str(root), "--detach", *ports)
    assert up.returncode == 0, up.stdout + up.stderr
    assert butterfly("dev", "down", "--dir", str(root)).returncode == 0

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        (root / "pids.json").write_text(json.dumps([bystander.pid]) + "\n", encoding="utf-8")
        down = butterfly("dev", "down", "--dir", str(root))
        assert down.returncode == 0
        assert "stopped 0 node process(es)" in down.stdout
        assert bystander.poll() is None

        (root / "pids.json").write_text(json.dumps([bystander.pid]) + "\n", encoding="utf-8")
        reused = butterfly("dev", "up", "--nodes", str(NODES), "--dir", str(root), "--detach")
        assert reused.returncode == 0, reused.stdout + reused.stderr
        assert "reusing the dev cluster" in reused.stdout
        assert bystander.poll() is None
        assert _statuses(reused.stdout) == [200] * NODES
    finally:
        bystander.kill()
        bystander.wait(10)


def test_a_dir_that_cannot_hold_a_cluster_is_a_clear_refusal(tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x", encoding="utf-8")
    for target, expected in ((a_file, "not a directory"),
                             (a_file / "below", "cannot create the dev cluster")):
        result = butterfly("dev", "up", "--nodes", str(NODES), "--dir", str(target), "--detach")
        assert result.returncode == 2, result.stdout + result.stderr
        assert expected in result.stderr
        assert "Traceback" not in result.stderr


def test_a_second_cluster_on_taken_ports_is_refused_before_anything_is_written(
        cluster_dir: tuple[Path, list[str]], tmp_path: Path) -> None:
    """It used to start nodes that could not bind, take the first cluster's /readyz
    answers for its own, print that cluster as ready, and then fail with 401."""
    root, ports = cluster_dir
    up = butterfly("dev", "up", "--nodes", str(NODES), "--dir", str(root), "--detach", *ports)
    assert up.returncode == 0, up.stdout + up.stderr
    pids = json.loads((root / "pids.json").read_text(encoding="utf-8"))

    other = tmp_path / "other"
    second = butterfly("dev", "up", "--nodes", str(NODES), "--dir", str(other), "--detach",
                       *ports)
    assert second.returncode == 2, second.stdout + second.stderr
    assert "ports are in use" in second.stderr and "--base-port" in second.stderr
    assert not other.exists() or not any(other.iterdir())
    assert all(_alive(pid) for pid in pids)
    assert _statuses(up.stdout) == [200] * NODES
