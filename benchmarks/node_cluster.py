"""Real node processes on 127.0.0.1: commit latency, memory, and etcd beside them.

For each cluster size: start a dev cluster, send sequential consensus updates
(client request -> 200: the revision is certified, i.e. a quorum stored its
vote for it, and durable and applied on the node that answers), and after each
one ask every node when it applied the new revision (watch's `applied_at`, on
the clock the request was sent by): the quorum's last of those stamps is ->
applied by a quorum, the last of all -> applied on every node.
The floor is a 3-node etcd cluster's put of the same 40 KB document (the
reference configuration file, 38 KB, whose cluster options the nodes agree on
as a 4 KB canonical document) in the same run, half right before and half
right after the n = 4 cluster, pooled, when etcd can be installed here. It is
compared like with like: an update sent to a non-coordinator against a put
sent to a follower (both are forwarded), and at n = 4 an update sent to the
coordinator against a put sent to the leader.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.config_load import REFERENCE
from benchmarks.report import Figure
from butterfly_config.node.ports import free_port_block
from butterfly_config.validation.quorum import max_faults, quorum_size

ETCD_PUT = "etcd 3-node put of the 38 KB reference config file"


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _timed_update(client: httpx.Client, url: str, i: int) -> tuple[float, int]:
    """Consensus update number `i` through `url`: milliseconds to its 200, and its revision.

    Each number gives a document never proposed before in the run: the nodes remember
    the verdicts of documents they checked, and repeating documents would time those
    memories instead of the checks.
    """
    body = {"operations": [{"op": "set", "path": "network.compression.level",
                            "value": 1 + i % 20},
                           {"op": "set", "path": "network.connection.idle_timeout_ms",
                            "value": 30_000 + i}]}
    start = time.perf_counter()
    response = client.patch(f"{url}/api/v1/config", json=body)
    elapsed_ms = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"update {i} failed: {response.status_code} {response.text}")
    return elapsed_ms, int(response.json()["revision"])


def measure_cluster(
    nodes: int, updates: int, workdir: Path, *, via_coordinator: bool = False
) -> dict[str, float]:
    """Updates sent to node 1 (not the coordinator: one hop more, the usual case);
    with `via_coordinator`, as many again sent to the coordinator (node 0)."""
    from butterfly_config.cli import dev_cmd, dev_processes

    layout = dev_cmd.plan_free_layout(workdir / f"n{nodes}", nodes)
    dev_cmd.create_cluster_files(layout)
    procs = dev_processes.start_nodes(layout)
    try:
        dev_processes.wait_ready(layout, procs)
        token = layout.token_path.read_text().strip()
        headers = {"Authorization": f"Bearer {token}"}
        urls = [n.api_url for n in layout.nodes]
        idle_rss = statistics.mean(_rss_kib(p.pid) for p in procs)
        commit: list[float] = []
        quorum: list[float] = []
        everywhere: list[float] = []
        direct: list[float] = []
        q = quorum_size(nodes, max_faults(nodes))
        with httpx.Client(headers=headers, timeout=30.0) as client:
            for i in range(updates if via_coordinator else 0):
                direct.append(_timed_update(client, urls[0], i)[0])
            for i in range(updates, 2 * updates):
                sent = time.time()  # the nodes stamp applied_at with the same clock
                elapsed_ms, revision = _timed_update(client, urls[1 % nodes], i)
                # when each node applied it, by its own stamp: asking the nodes one
                # after the other would add their answers' time to the figure
                applied: list[float] = []
                for url in urls:
                    head = client.get(f"{url}/api/v1/config/watch",
                                      params={"after": revision - 1, "timeout": 5}).json()
                    if int(head.get("revision", -1)) != revision:
                        raise RuntimeError(f"{url} is at revision {head.get('revision')}, "
                                           f"not {revision}")
                    applied.append(float(head["applied_at"]))
                applied.sort()
                commit.append(elapsed_ms)
                quorum.append((applied[q - 1] - sent) * 1000)
                everywhere.append((applied[-1] - sent) * 1000)
        busy_rss = statistics.mean(_rss_kib(p.pid) for p in procs)
        via_coordinator_figures = {
            "coordinator_p50": percentile(direct, 0.5),
            "coordinator_p99": percentile(direct, 0.99),
        } if direct else {}
        return {
            **via_coordinator_figures,
            "commit_p50": percentile(commit, 0.5),
            "commit_p99": percentile(commit, 0.99),
            "quorum_p50": percentile(quorum, 0.5),
            "quorum_p99": percentile(quorum, 0.99),
            "quorum": q,
            "all_p50": percentile(everywhere, 0.5),
            "all_p99": percentile(everywhere, 0.99),
            "idle_rss_mib": idle_rss / 1024,
            "rss_after_mib": busy_rss / 1024,
        }
    finally:
        dev_processes.stop_processes(procs)


def _ensure_etcd() -> str | None:
    found = shutil.which("etcd")
    if found:
        return found
    if os.geteuid() != 0:
        return None
    for argv in (["apt-get", "install", "-y", "-qq", "etcd-server"],):
        try:
            subprocess.run(argv, check=True, capture_output=True, timeout=300)
        except (subprocess.SubprocessError, OSError):
            try:
                subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=300)
                subprocess.run(argv, check=True, capture_output=True, timeout=300)
            except (subprocess.SubprocessError, OSError):
                return None
    return shutil.which("etcd")


def measure_etcd(puts: int, workdir: Path) -> dict[str, list[float]] | None:
    """Milliseconds of `puts` puts via a follower ("") and to the leader ("leader_")."""
    etcd = _ensure_etcd()
    if etcd is None:
        return None
    workdir.mkdir(parents=True, exist_ok=True)
    import base64

    base = free_port_block(6)
    names = [f"e{i}" for i in range(3)]
    cluster = ",".join(f"{n}=http://127.0.0.1:{base + 2 * i + 1}" for i, n in enumerate(names))
    procs = []
    try:
        for i, name in enumerate(names):
            client_port, peer_port = base + 2 * i, base + 2 * i + 1
            procs.append(subprocess.Popen(
                [etcd, "--name", name, "--data-dir", str(workdir / f"etcd-{name}"),
                 "--listen-client-urls", f"http://127.0.0.1:{client_port}",
                 "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
                 "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                 "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                 "--initial-cluster", cluster, "--initial-cluster-state", "new"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        urls = [f"http://127.0.0.1:{base + 2 * i}" for i in range(len(names))]
        url = f"{urls[0]}/v3/kv/put"
        body = {"key": base64.b64encode(b"butterfly/config").decode(),
                "value": base64.b64encode(REFERENCE.read_bytes()).decode()}
        with httpx.Client(timeout=10.0) as client:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if client.post(url, json=body).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline:
                    return None
                time.sleep(0.2)
            leader = _etcd_leader(client, urls)
            follower = next(u for u in urls if u != leader)
            # like the cluster's figures: through a follower (forwarded to the leader,
            # as an update sent to a non-coordinator is), then to the leader itself
            timed: dict[str, list[float]] = {"": [], "leader_": []}
            for prefix, target in (("", follower), ("leader_", leader)):
                for _ in range(puts):
                    start = time.perf_counter()
                    client.post(f"{target}/v3/kv/put", json=body).raise_for_status()
                    timed[prefix].append((time.perf_counter() - start) * 1000)
        return timed
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()


def _etcd_figures(
    before: dict[str, list[float]] | None, after: dict[str, list[float]] | None
) -> dict[str, float] | None:
    """p50/p99 of both etcd runs' puts together, per target ("" and "leader_")."""
    if before is None or after is None:
        return None
    return {f"{prefix}{q}": percentile(before[prefix] + after[prefix], level)
            for prefix in before
            for q, level in (("p50", 0.5), ("p99", 0.99))}


def _etcd_leader(client: httpx.Client, urls: list[str]) -> str:
    """The client URL of the member that leads (maintenance/status names the leader)."""
    for url in urls:
        status = client.post(f"{url}/v3/maintenance/status", json={}).json()
        if status.get("leader") == status.get("header", {}).get("member_id"):
            return url
    raise RuntimeError("the etcd cluster has no leader")


def run(quick: bool = False) -> list[Figure]:
    updates = 40 if quick else 200
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="butterfly-bench-") as tmp:
        work = Path(tmp)
        # the floor is measured right before and right after the n = 4 cluster, half
        # each time, and pooled: a VM that speeds up or slows down during the run
        # moves both sides of the ratio
        before = measure_etcd(updates // 2, work / "etcd-before")
        m4 = measure_cluster(4, updates, work, via_coordinator=True)
        after = measure_etcd(updates - updates // 2, work / "etcd-after") if before else None
        etcd = _etcd_figures(before, after)
        floor = etcd["p50"] if etcd else None
        leader_floor = etcd["leader_p50"] if etcd else None
        if etcd:
            figures += [
                Figure(f"{ETCD_PUT}, via a follower [floor] p50", etcd["p50"], "ms"),
                Figure(f"{ETCD_PUT}, via a follower p99", etcd["p99"], "ms"),
                Figure(f"{ETCD_PUT}, to the leader [floor] p50", etcd["leader_p50"], "ms"),
                Figure(f"{ETCD_PUT}, to the leader p99", etcd["leader_p99"], "ms"),
            ]
        note = "" if floor else "etcd could not be installed here: no floor"
        for nodes in (4, 7):
            m = m4 if nodes == 4 else measure_cluster(nodes, updates, work)
            revisions = updates * (2 if "coordinator_p50" in m else 1)
            figures += [
                Figure(f"n={nodes}: update -> 200 (committed) p50", m["commit_p50"], "ms",
                       ratio=m["commit_p50"] / floor if floor else None,
                       target="<= 15 ms, <= 3x etcd" if nodes == 4 else "",
                       note=note or "sent to a non-coordinator; ratio to etcd via a follower"),
                Figure(f"n={nodes}: update -> 200 p99", m["commit_p99"], "ms",
                       target="<= 50 ms" if nodes == 4 else ""),
            ]
            if "coordinator_p50" in m:
                figures += [
                    Figure(f"n={nodes}: update sent to the coordinator -> 200 p50",
                           m["coordinator_p50"], "ms",
                           ratio=m["coordinator_p50"] / leader_floor if leader_floor else None,
                           note=note or "ratio to etcd's put to the leader"),
                    Figure(f"n={nodes}: update sent to the coordinator -> 200 p99",
                           m["coordinator_p99"], "ms"),
                ]
            figures += [
                Figure(f"n={nodes}: update -> applied by a quorum p50", m["quorum_p50"], "ms",
                       note=f"{m['quorum']:.0f} of {nodes} nodes, by their own applied_at"),
                Figure(f"n={nodes}: update -> applied by a quorum p99", m["quorum_p99"], "ms"),
                Figure(f"n={nodes}: update -> applied on every node p50", m["all_p50"], "ms"),
                Figure(f"n={nodes}: update -> applied on every node p99", m["all_p99"], "ms"),
                Figure(f"n={nodes}: idle node RSS", m["idle_rss_mib"], "MiB"),
                Figure(f"n={nodes}: node RSS after {revisions} revisions", m["rss_after_mib"],
                       "MiB"),
            ]
    return figures
