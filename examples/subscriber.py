"""An in-process component that follows its node's configuration: a batch scheduler.

    python examples/subscriber.py [--dir DIR]

A component living inside a node process registers a `ConfigSubscriber` on
the node's `ConfigManager` (`runtime.manager.subscribers.add(...)`):

- `before_config_change(proposed)` sees the whole configuration as it would
  be and may refuse it with a reason. For a cluster-wide change the node then
  answers PREPARE_REJECT and the update aborts on every member; for a
  dynamic-local change the request is refused on this node. Either way
  nothing is applied anywhere.
- `on_config_changed(old, new)` runs once a change is applied and persisted,
  with the old and new immutable snapshots.

Both run on the node's event loop, between protocol steps: keep them quick
and never block in them (hand slow work to your own thread or task).

The script starts a standalone node (a one-member cluster) in a temporary
directory (or DIR), its HTTP API on 127.0.0.1, registers a `BatchScheduler`
with three jobs queued, then changes the configuration through the API as an
operator would:

1. scheduling.policy = "least_loaded": committed; the scheduler switches.
2. scheduling.queues.max_queue_depth = 2: refused by the scheduler (three jobs
   are queued); nothing changes.
3. scheduling.queues.max_queue_depth = 8: applied on this node (dynamic-local);
   the scheduler resizes its queue.
4. scheduling.policy = "custom": refused, the scheduler has no such policy.

Authentication is off because the API listens on 127.0.0.1 only, for a few
seconds; a real node keeps `security.api.require_auth` on.
Exits 0 when everything happened as described, 1 if not, 2 if the node could
not start.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from collections import deque
from pathlib import Path
from typing import Any

from butterfly_config.client import ButterflyClient, RemoteRefused
from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ButterflyError
from butterfly_config.loader import ConfigLoader
from butterfly_config.node.ports import free_ports
from butterfly_config.node.runtime import NodeRuntime
from butterfly_config.node.security import generate_signing_keypair
from butterfly_config.node.subscribers import ConfigSubscriber

START_TIMEOUT_S = 20.0


class BatchScheduler(ConfigSubscriber):
    """Queues inference batches; follows scheduling.policy and max_queue_depth."""

    name = "batch-scheduler"
    POLICIES = ("round_robin", "least_loaded", "predictive")

    def __init__(self, config: ButterflyConfig) -> None:
        scheduling = config.model.scheduling
        self.policy: str = scheduling.policy
        self.max_depth: int = scheduling.queues.max_queue_depth
        self.queue: deque[str] = deque()
        self.changes_seen = 0

    def submit(self, batch: str) -> None:
        if len(self.queue) >= self.max_depth:
            raise RuntimeError(f"queue full ({self.max_depth})")
        self.queue.append(batch)

    def before_config_change(self, proposed: ButterflyConfig) -> str | None:
        scheduling = proposed.model.scheduling
        if scheduling.policy not in self.POLICIES:
            return f"no {scheduling.policy!r} policy here (have: {', '.join(self.POLICIES)})"
        depth = scheduling.queues.max_queue_depth
        if depth < len(self.queue):
            return f"max_queue_depth {depth} is below the {len(self.queue)} batches queued"
        return None

    def on_config_changed(self, old: ButterflyConfig, new: ButterflyConfig) -> None:
        self.changes_seen += 1
        scheduling = new.model.scheduling
        if scheduling.policy != self.policy:
            print(f"  [{self.name}] policy {self.policy} -> {scheduling.policy}")
            self.policy = scheduling.policy
        if scheduling.queues.max_queue_depth != self.max_depth:
            print(f"  [{self.name}] queue depth {self.max_depth} -> "
                  f"{scheduling.queues.max_queue_depth}")
            self.max_depth = scheduling.queues.max_queue_depth


def write_node_config(directory: Path) -> Path:
    """A standalone development node: its own key, data and log under `directory`."""
    keys = generate_signing_keypair(directory / "keys", overwrite=True)
    peer_port, api_port = free_ports(2)
    path = directory / "node.toml"
    path.write_text(f"""\
[metadata]
environment = "development"

[node]
node_id = "scheduler-host"
data_dir = "{directory / 'data'}"

[network]
listen_addr = "127.0.0.1:{peer_port}"
api_addr = "127.0.0.1:{api_port}"

[security.tls]
enabled = false

[security.signing]
private_key_file = "{keys.private_path}"
public_key_file = "{keys.public_path}"

[security.api]
require_auth = false

[security.access_control]
enabled = false

[observability.logging]
output = "file"
file_path = "{directory / 'node.log'}"
""", encoding="utf-8")
    return path


class Demo:
    def __init__(self, runtime: NodeRuntime, scheduler: BatchScheduler, url: str) -> None:
        self.runtime = runtime
        self.scheduler = scheduler
        self.client = ButterflyClient(url, timeout=10.0, verify=False)
        self.failures: list[str] = []

    def expect(self, what: str, ok: bool) -> None:
        print(f"  {'ok' if ok else 'UNEXPECTED'}: {what}")
        if not ok:
            self.failures.append(what)

    async def change(self, path: str, value: Any) -> dict[str, Any] | RemoteRefused:
        try:
            return await asyncio.to_thread(self.client.set, path, value)
        except RemoteRefused as refused:
            return refused

    async def run(self) -> None:
        manager = self.runtime.manager
        print("1. scheduling.policy = least_loaded")
        result = await self.change("scheduling.policy", "least_loaded")
        self.expect("committed as revision 1", isinstance(result, dict) and
                    result["revision"] == 1)
        self.expect("the scheduler follows it", self.scheduler.policy == "least_loaded")

        print("2. scheduling.queues.max_queue_depth = 2 (3 batches queued)")
        result = await self.change("scheduling.queues.max_queue_depth", 2)
        if isinstance(result, RemoteRefused):
            print(f"  refused (HTTP {result.status}): {result.message}")
        self.expect("refused with the scheduler's reason", isinstance(result, RemoteRefused)
                    and result.status == 409 and "batch-scheduler" in result.message)
        self.expect("nothing changed", manager.config.model.scheduling.queues.max_queue_depth
                    == 100 and self.scheduler.max_depth == 100)

        print("3. scheduling.queues.max_queue_depth = 8")
        result = await self.change("scheduling.queues.max_queue_depth", 8)
        self.expect("applied on this node only (no new revision)", isinstance(result, dict)
                    and result["scope"] == "local" and result["revision"] == 1)
        self.expect("the scheduler resized its queue", self.scheduler.max_depth == 8)

        print("4. scheduling.policy = custom")
        result = await self.change("scheduling.policy", "custom")
        if isinstance(result, RemoteRefused):
            print(f"  refused (HTTP {result.status}): {result.message}")
        self.expect("aborted by the scheduler's veto", isinstance(result, RemoteRefused)
                    and result.status == 409 and "no 'custom' policy" in result.message)
        self.expect("still on revision 1 with least_loaded", manager.revision == 1
                    and manager.config.model.scheduling.policy == "least_loaded")
        self.expect("the scheduler was told of exactly two changes",
                    self.scheduler.changes_seen == 2)


async def serve_and_demo(config_path: Path) -> int:
    config = ConfigLoader().add_file(config_path).set_environ({}).load()
    runtime = NodeRuntime(base=config, config_paths=[config_path])
    runtime.build()
    scheduler = BatchScheduler(runtime.manager.config)
    for batch in ("batch-1", "batch-2", "batch-3"):
        scheduler.submit(batch)
    runtime.manager.subscribers.add(scheduler)

    stop = asyncio.Event()
    node = asyncio.create_task(runtime.run(stop))
    try:
        for _ in range(int(START_TIMEOUT_S / 0.05)):
            if node.done() or runtime.manager.is_ready()[0]:
                break
            await asyncio.sleep(0.05)
        if node.done():
            node.result()  # raises the start-up error
        if not runtime.manager.is_ready()[0]:
            print(f"the node did not become ready: {runtime.manager.is_ready()[1]}",
                  file=sys.stderr)
            return 2
        url = f"http://{config.model.network.api_addr}"
        print(f"node {runtime.node_id} ready at {url}, revision {runtime.manager.revision}; "
              f"{scheduler.name} registered with {len(scheduler.queue)} batches queued")
        demo = Demo(runtime, scheduler, url)
        try:
            await demo.run()
        finally:
            demo.client.close()
    finally:
        stop.set()
        await node
    if demo.failures:
        print(f"{len(demo.failures)} unexpected outcome(s)", file=sys.stderr)
        return 1
    print("done: every change went as expected")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dir", help="keep the node's files here instead of a temp dir")
    args = parser.parse_args(argv)
    try:
        if args.dir:
            directory = Path(args.dir).resolve()
            directory.mkdir(parents=True, exist_ok=True)
            return asyncio.run(serve_and_demo(write_node_config(directory)))
        with tempfile.TemporaryDirectory(prefix="butterfly-subscriber-") as tmp:
            return asyncio.run(serve_and_demo(write_node_config(Path(tmp))))
    except ButterflyError as exc:
        print(exc.render(), file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
