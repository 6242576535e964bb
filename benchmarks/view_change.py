"""Coordinator failure on real node processes: SIGSTOP -> first commit in the new view.

A 4-node dev cluster on 127.0.0.1 with the default protocol settings. Each
repetition pauses the current coordinator (SIGSTOP: the process stays
"alive" but silent), immediately sends an update to another member, and
times the update's 200 (committed by a quorum, necessarily in a new view).
The old coordinator is then resumed and rejoins before the next repetition.

Settings are changed live between rows (they are dynamic-consensus options),
so the figures also show them taking effect without a restart:
- defaults: heartbeats every 100 ms, phi thresholds 8 / 12, view-change
  timeout 10 s; the failure detector starts the view change;
- the detector on with a longer view-change timeout: no change expected, the
  detector acts long before the timeout;
- the detector effectively off (phi thresholds 10^6 / 2 * 10^6): the
  view-change timeout alone starts it, so the time grows with the timeout.
The view-change timeouts stay well above `prepare_timeout_ms`: at or below
it, every new coordinator is replaced while it waits for the paused member's
vote, and nothing commits. And the whole failover must fit in the API's 15 s
decision time.
After the view change, the fast path (all n votes) cannot complete with a
member paused, so each commit also waits `prepare_timeout_ms` (2 s) before
the commit round: that is part of every figure. With the defaults the ~4.4 s
are about 1.4 s of detection (phi 12 at 100 ms heartbeats), 1 s in which the
new coordinator waits for the paused member's view-change report
(`pre_prepare_timeout_ms`), and the 2 s prepare timeout.
"""

from __future__ import annotations

import os
import signal
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import tomlkit

from benchmarks.report import Figure

NODES = 4
OFF = {"byzantine.failure_detection.phi_suspect_threshold": 1e6,
       "byzantine.failure_detection.phi_failed_threshold": 2e6}
ON = {"byzantine.failure_detection.phi_suspect_threshold": 8.0,
      "byzantine.failure_detection.phi_failed_threshold": 12.0}
ROWS: list[tuple[str, dict[str, Any], int]] = [  # label, live change, runs (quick: 1)
    ("defaults (detector on, view_change.timeout_ms 10000)", {}, 3),
    ("detector on, view_change.timeout_ms 20000",
     {"byzantine.view_change.timeout_ms": 20000}, 2),
    ("detector off, view_change.timeout_ms 4000",
     {**OFF, "byzantine.view_change.timeout_ms": 4000}, 2),
    ("detector off, view_change.timeout_ms 8000",
     {"byzantine.view_change.timeout_ms": 8000}, 2),
]


def _set_defaults(path: Path) -> None:
    """The dev cluster shortens the view-change timeout; put the schema default back."""
    document = tomlkit.parse(path.read_text(encoding="utf-8"))
    document["byzantine"]["view_change"]["timeout_ms"] = 10000
    path.write_text(tomlkit.dumps(document), encoding="utf-8")


class Bench:
    def __init__(self, client: httpx.Client, urls: list[str], pids: list[int]) -> None:
        self.client = client
        self.urls = urls
        self.pids = pids
        self.value = 0

    def status(self, index: int) -> dict[str, Any]:
        response = self.client.get(f"{self.urls[index]}/api/v1/cluster/status")
        response.raise_for_status()
        return dict(response.json())

    def patch(self, index: int, values: dict[str, Any]) -> int:
        body = {"operations": [{"op": "set", "path": k, "value": v} for k, v in values.items()]}
        response = self.client.patch(f"{self.urls[index]}/api/v1/config", json=body)
        if response.status_code != 200:
            raise RuntimeError(f"update failed: {response.status_code} {response.text}")
        return int(response.json()["revision"])

    def update(self, index: int) -> int:
        self.value += 1
        return self.patch(index, {"observability.metrics.export_interval_secs": 100 + self.value})

    def settled(self, revision: int, timeout: float = 60.0) -> None:
        """Every node on `revision`, in one established view, seeing every peer ready."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                views = [self.status(i) for i in range(NODES)]
            except httpx.HTTPError:
                views = []
            if views and all(
                v["revision"] >= revision and v["established"]
                and all(n["state"] == "ready" for n in v["nodes"]) for v in views
            ) and len({(v["view"], v["revision"]) for v in views}) == 1:
                return
            time.sleep(0.1)
        raise RuntimeError(f"cluster did not settle on revision {revision} within {timeout}s")

    def failover(self) -> float:
        """Pause the coordinator; ms until an update through another member commits."""
        coordinator = self.status(0)["coordinator"]
        index = int(coordinator.rsplit("-", 1)[1])
        via = (index + 1) % NODES
        os.kill(self.pids[index], signal.SIGSTOP)
        try:
            start = time.perf_counter()
            self.update(via)
            took = (time.perf_counter() - start) * 1000
        finally:
            os.kill(self.pids[index], signal.SIGCONT)
        if self.status(via)["coordinator"] == coordinator:
            raise RuntimeError("committed without a view change")
        # one more update tells the resumed member of the new view; then let it settle
        self.settled(self.update(via))
        return took


def measure(quick: bool, workdir: Path) -> list[tuple[str, list[float]]]:
    from butterfly_config.cli import dev_cmd, dev_processes

    layout = dev_cmd.plan_free_layout(workdir / "vc", NODES)
    dev_cmd.create_cluster_files(layout)
    for node in layout.nodes:
        _set_defaults(node.config_path)
    procs = dev_processes.start_nodes(layout)
    results: list[tuple[str, list[float]]] = []
    try:
        dev_processes.wait_ready(layout, procs)
        token = layout.token_path.read_text().strip()
        with httpx.Client(headers={"Authorization": f"Bearer {token}"}, timeout=60.0) as client:
            bench = Bench(client, [n.api_url for n in layout.nodes], [p.pid for p in procs])
            bench.settled(0)
            for label, change, runs in ROWS:
                if change:
                    bench.settled(bench.patch(1, change))
                time.sleep(1.0)  # a second of heartbeats under the new settings
                samples = []
                for _ in range(1 if quick else runs):
                    samples.append(bench.failover())
                    time.sleep(1.0)
                results.append((label, samples))
            bench.patch(1, ON)
    finally:
        dev_processes.stop_processes(procs)
    return results


def run(quick: bool = False) -> list[Figure]:
    with tempfile.TemporaryDirectory(prefix="butterfly-bench-vc-") as tmp:
        results = measure(quick, Path(tmp))
    figures = []
    for label, samples in results:
        note = f"{len(samples)} runs, min {min(samples):.0f} / max {max(samples):.0f} ms"
        figures.append(Figure(f"n=4: coordinator SIGSTOP -> first commit, {label}",
                              statistics.median(samples), "ms", note=note))
    return figures
