"""Hot reload on real node processes: a saved file -> the change applied.

A 4-node dev cluster on 127.0.0.1; one node's file (node-1, not the view-0
coordinator, so consensus changes are forwarded as in the general case) is
saved by rename, as most editors do, once per edit:
- dynamic-local (`resources.rate_limits.max_requests_per_sec`): from the
  rename to that node's API listing the change in its local history (polled
  every POLL_S, so figures include up to that much polling delay);
- dynamic-consensus (`network.compression.level`): from the rename to every
  node having applied the new revision (long-polls on /config/watch parked on
  every node before the save, so no polling delay).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.node_cluster import percentile
from benchmarks.report import Figure
from butterfly_config.sources.toml_edit import save_by_rename

NODES = 4
EDITED = 1
POLL_S = 0.002
PAUSE_S = 0.05  # between edits, so two edits never share one debounce window


async def _local_edits(client: httpx.AsyncClient, url: str, path: Path,
                       edits: int) -> list[float]:
    samples: list[float] = []
    history = f"{url}/api/v1/config/history"
    params: dict[str, str | int] = {"scope": "local", "limit": 1}

    async def newest() -> int:
        entries = (await client.get(history, params=params)).json()
        return int(entries[0]["seq"]) if entries else 0

    for i in range(edits):
        before = await newest()
        saved = time.perf_counter()
        save_by_rename(path, {"resources.rate_limits.max_requests_per_sec": 1000 + i})
        deadline = saved + 10.0
        while await newest() <= before:
            if time.perf_counter() > deadline:
                raise RuntimeError(f"local edit {i} not applied within 10 s")
            await asyncio.sleep(POLL_S)
        samples.append((time.perf_counter() - saved) * 1000)
        await asyncio.sleep(PAUSE_S)
    return samples


async def _cluster_edits(client: httpx.AsyncClient, urls: list[str], path: Path,
                         edits: int) -> list[float]:
    samples: list[float] = []
    first = (await client.get(f"{urls[0]}/api/v1/config/history", params={"limit": 1})).json()
    revision = int(first[0]["revision"]) if first else 0

    async def applied(url: str, after: int) -> float:
        response = await client.get(f"{url}/api/v1/config/watch",
                                    params={"after": after, "timeout": 10})
        if int(response.json().get("revision", -1)) <= after:
            raise RuntimeError(f"{url}: revision {after + 1} not applied within 10 s")
        return time.perf_counter()

    for i in range(edits):
        waits = [asyncio.create_task(applied(url, revision)) for url in urls]
        await asyncio.sleep(0.02)  # the long-polls are parked on every node
        saved = time.perf_counter()
        save_by_rename(path, {"network.compression.level": 1 + (i % 2) * 8 + (i // 2) % 2})
        done = await asyncio.gather(*waits)
        samples.append((max(done) - saved) * 1000)
        revision += 1
        await asyncio.sleep(PAUSE_S)
    return samples


def measure(edits: int, workdir: Path) -> dict[str, list[float]]:
    from butterfly_config.cli import dev_cmd, dev_processes

    layout = dev_cmd.plan_free_layout(workdir / "hot", NODES)
    dev_cmd.create_cluster_files(layout)
    procs = dev_processes.start_nodes(layout)
    try:
        dev_processes.wait_ready(layout, procs)
        token = layout.token_path.read_text().strip()
        urls = [n.api_url for n in layout.nodes]
        path = layout.nodes[EDITED].config_path

        async def run_all() -> dict[str, list[float]]:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx.AsyncClient(headers=headers, timeout=30.0, trust_env=False) as client:
                local = await _local_edits(client, urls[EDITED], path, edits)
                cluster = await _cluster_edits(client, urls, path, edits)
            return {"local": local, "cluster": cluster}

        return asyncio.run(run_all())
    finally:
        dev_processes.stop_processes(procs)


def run(quick: bool = False) -> list[Figure]:
    edits = 10 if quick else 60
    with tempfile.TemporaryDirectory(prefix="butterfly-bench-") as tmp:
        samples = measure(edits, Path(tmp))
    local, cluster = samples["local"], samples["cluster"]
    return [
        Figure(f"n={NODES}: file saved -> dynamic-local change applied on its node p50",
               percentile(local, 0.5), "ms", target="<= 150 ms",
               note=f"{len(local)} rename-saves; API polled every {POLL_S * 1000:.0f} ms"),
        Figure(f"n={NODES}: file saved -> dynamic-local applied p99", percentile(local, 0.99),
               "ms"),
        Figure(f"n={NODES}: file saved -> dynamic-consensus change applied on every node p50",
               percentile(cluster, 0.5), "ms", target="<= 200 ms",
               note=f"{len(cluster)} rename-saves on a non-coordinator"),
        Figure(f"n={NODES}: file saved -> dynamic-consensus applied everywhere p99",
               percentile(cluster, 0.99), "ms"),
    ]
