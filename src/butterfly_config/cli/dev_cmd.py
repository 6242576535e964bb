"""`butterfly dev up`: a local cluster on 127.0.0.1 for trying things out.

It writes everything a real cluster needs (signing keys, a JWT secret, an admin
token, an RBAC policy, one config per node, and with --tls a CA and
certificates), starts one `butterfly start` process per node, waits until each
answers /readyz, and prints how to talk to it. The directory is reused when it
already holds a dev cluster, so restarts keep history.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from butterfly_config.cli.dev_processes import (
    ports_in_use,
    running_nodes,
    start_nodes,
    stop_processes,
    stop_running,
    wait_ready,
)
from butterfly_config.errors import ConfigIOError, UsageError
from butterfly_config.node.ports import free_ports

MARKER = "dev-cluster.json"
CLUSTER_NAME = "butterfly-dev"


@dataclass(frozen=True, slots=True)
class DevNode:
    index: int
    node_id: str
    peer_addr: str
    api_addr: str
    metrics_addr: str
    home: Path

    @property
    def config_path(self) -> Path:
        return self.home / "node.toml"

    @property
    def api_url(self) -> str:
        return self.api_url_for(tls=False)

    def api_url_for(self, *, tls: bool) -> str:
        return f"{'https' if tls else 'http'}://{self.api_addr}"


@dataclass(frozen=True, slots=True)
class DevLayout:
    root: Path
    nodes: tuple[DevNode, ...]
    tls: bool

    @property
    def token_path(self) -> Path:
        return self.root / "secrets" / "admin.token"

    @property
    def jwt_secret_path(self) -> Path:
        return self.root / "secrets" / "jwt.key"

    @property
    def policy_path(self) -> Path:
        return self.root / "rbac.toml"

    @property
    def ca_path(self) -> Path:
        return self.root / "tls" / "ca.crt"

    @property
    def pids_path(self) -> Path:
        return self.root / "pids.json"


def plan_layout(root: Path, nodes: int, base_port: int, api_base_port: int, tls: bool) -> DevLayout:
    ports = [(base_port + i, api_base_port + i, api_base_port + 1000 + i) for i in range(nodes)]
    return layout_for_ports(root, ports, tls)


def plan_free_layout(root: Path, nodes: int, *, tls: bool = False) -> DevLayout:
    """A layout on ports free right now, one block of three per node (for tests and
    benchmarks, which must not collide with a cluster already running here)."""
    ports = free_ports(3 * nodes)
    return layout_for_ports(root, list(zip(ports[0::3], ports[1::3], ports[2::3], strict=True)),
                            tls)


def layout_for_ports(root: Path, ports: Sequence[tuple[int, int, int]], tls: bool) -> DevLayout:
    """One node per (peer, API, metrics) port triple, all on 127.0.0.1."""
    members = tuple(
        DevNode(
            index=i,
            node_id=f"node-{i}",
            peer_addr=f"127.0.0.1:{peer}",
            api_addr=f"127.0.0.1:{api}",
            metrics_addr=f"127.0.0.1:{metrics}",
            home=root / f"node-{i}",
        )
        for i, (peer, api, metrics) in enumerate(ports)
    )
    return DevLayout(root=root.resolve(), nodes=members, tls=tls)


def _toml_str(value: str) -> str:
    return json.dumps(value)


def render_node_config(layout: DevLayout, node: DevNode, public_keys: dict[str, str]) -> str:
    """The TOML file of one dev node: identical cluster options, its own node options."""
    home = node.home.resolve()
    coordinator = layout.nodes[0].peer_addr
    f_value = max(1, (len(layout.nodes) - 1) // 3)
    tls = layout.tls
    lines = [
        "# Written by `butterfly dev up`: a local development cluster on 127.0.0.1.",
        "[metadata]",
        f"cluster_name = {_toml_str(CLUSTER_NAME)}",
        'environment = "development"',
        "",
        "[node]",
        f"node_id = {_toml_str(node.node_id)}",
        f"data_dir = {_toml_str(str(home / 'data'))}",
        f"log_dir = {_toml_str(str(home / 'log'))}",
        f"temp_dir = {_toml_str(str(home / 'tmp'))}",
        "",
        "[network]",
        f"coordinator_addr = {_toml_str(coordinator)}",
        f"listen_addr = {_toml_str(node.peer_addr)}",
        f"api_addr = {_toml_str(node.api_addr)}",
        "",
        "[byzantine]",
        f"f_value = {f_value}",
        "",
        "[byzantine.view_change]",
        "timeout_ms = 4000",
        "",
        "[observability.logging]",
        'format = "text"',
        'output = "file"',
        f"file_path = {_toml_str(str(home / 'log' / 'node.log'))}",
        "",
        "[observability.metrics]",
        f"listen_addr = {_toml_str(node.metrics_addr)}",
        "",
        "[observability.tracing]",
        "enabled = false",
        "",
        "[security.tls]",
        f"enabled = {'true' if tls else 'false'}",
        f"cert_file = {_toml_str(str(home / 'tls' / 'node.crt'))}",
        f"key_file = {_toml_str(str(home / 'tls' / 'node.key'))}",
        f"ca_file = {_toml_str(str(layout.ca_path))}",
        "verify_client = true",
        "",
        "[security.signing]",
        f"private_key_file = {_toml_str(str(home / 'keys' / 'signing.key'))}",
        f"public_key_file = {_toml_str(str(home / 'keys' / 'signing.pub'))}",
        "",
        "[security.access_control]",
        f"policy_file = {_toml_str(str(layout.policy_path))}",
        "",
        "[security.api]",
        f"jwt_secret_file = {_toml_str(str(layout.jwt_secret_path))}",
        "",
    ]
    standalone = len(layout.nodes) == 1  # no members: the node decides alone, no agreement
    for member in () if standalone else layout.nodes:
        lines += [
            "[[cluster.members]]",
            f"node_id = {_toml_str(member.node_id)}",
            f"addr = {_toml_str(member.peer_addr)}",
            f"api_addr = {_toml_str(member.api_addr)}",
            f"public_key = {_toml_str(public_keys[member.node_id])}",
            "",
        ]
    return "\n".join(lines)


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)


def create_cluster_files(layout: DevLayout) -> None:
    """Generate keys, secrets, policy, TLS material and node configs."""
    import secrets

    from butterfly_config.node.security import (
        create_token,
        default_policy_toml,
        generate_signing_keypair,
    )

    layout.root.mkdir(parents=True, exist_ok=True)
    public_keys: dict[str, str] = {}
    for node in layout.nodes:
        for sub in ("data", "log", "tmp"):
            (node.home / sub).mkdir(parents=True, exist_ok=True)
        pair = generate_signing_keypair(node.home / "keys", algorithm="ed25519", name="signing")
        public_keys[node.node_id] = pair.public_key_b64
    secret = secrets.token_urlsafe(48).encode()
    _write_private(layout.jwt_secret_path, secret)
    token = create_token(
        secret,
        subject="dev-admin",
        roles=["admin"],
        ttl=30 * 24 * 3600,
        issuer="butterfly-cluster",
        audience="butterfly-api",
    )
    _write_private(layout.token_path, (token + "\n").encode())
    layout.policy_path.write_text(default_policy_toml(), encoding="utf-8")
    if layout.tls:
        _create_tls_material(layout)
    for node in layout.nodes:
        node.config_path.write_text(
            render_node_config(layout, node, public_keys), encoding="utf-8"
        )
    marker = {
        "cluster_name": CLUSTER_NAME,
        "tls": layout.tls,
        "nodes": [
            {"node_id": n.node_id, "peer_addr": n.peer_addr, "api_addr": n.api_addr}
            for n in layout.nodes
        ],
    }
    (layout.root / MARKER).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")


def _create_tls_material(layout: DevLayout) -> None:
    from butterfly_config.node.security import tls_material

    tls_dir = layout.root / "tls"
    ca = tls_material.create_cluster_ca(f"{CLUSTER_NAME} CA")
    tls_material.write_pem(ca, tls_dir / "ca.crt", tls_dir / "ca.key")
    for node in layout.nodes:
        tls_material.write_pem(
            tls_material.issue_node_certificate(ca, node.node_id),
            node.home / "tls" / "node.crt",
            node.home / "tls" / "node.key",
        )
    tls_material.write_pem(
        tls_material.issue_client_certificate(ca, "dev-admin", roles=["admin"]),
        tls_dir / "client" / "client.crt",
        tls_dir / "client" / "client.key",
    )


def load_existing(root: Path) -> DevLayout | None:
    """The layout of a dev cluster already in `root`, or None if there is none."""
    marker = root / MARKER
    if not marker.is_file():
        return None
    try:
        data = json.loads(marker.read_text(encoding="utf-8"))
        nodes = tuple(
            DevNode(
                index=i,
                node_id=n["node_id"],
                peer_addr=n["peer_addr"],
                api_addr=n["api_addr"],
                metrics_addr="",
                home=root.resolve() / n["node_id"],
            )
            for i, n in enumerate(data["nodes"])
        )
        return DevLayout(root=root.resolve(), nodes=nodes, tls=bool(data.get("tls")))
    except (ValueError, KeyError, TypeError) as exc:
        raise ConfigIOError(
            f"{marker}: not a readable dev cluster description ({exc})",
            hint="remove the directory or pick another --dir",
        ) from exc


def up(args: argparse.Namespace) -> int:
    if not (args.nodes == 1 or 4 <= args.nodes <= 31):
        raise UsageError(
            f"--nodes {args.nodes}: a dev cluster has 1 node (standalone) or 4 to 31",
            hint="tolerating one Byzantine member needs n >= 3f + 1 = 4 members",
        )
    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        raise UsageError(f"--dir {root}: not a directory", hint="pick an empty or new --dir")
    layout = load_existing(root)
    if layout is None:
        if root.exists() and any(root.iterdir()):
            raise UsageError(
                f"{root} exists and does not hold a dev cluster",
                hint="pick an empty or new --dir",
            )
        layout = plan_layout(root, args.nodes, args.base_port, args.api_base_port, args.tls)
        _refuse_taken_ports(layout)  # before any file is written: a retry picks new ports
        try:
            create_cluster_files(layout)
        except OSError as exc:
            raise ConfigIOError(
                f"cannot create the dev cluster in {root}: {exc.strerror or exc}",
                hint="pick a --dir this user can create and write",
            ) from None
        print(f"created a {args.nodes}-node dev cluster in {layout.root}")
    else:
        running = running_nodes(layout)
        if running:
            raise UsageError(
                f"the dev cluster in {layout.root} is already running "
                f"(processes {', '.join(map(str, running))})",
                hint=f"stop it first: Ctrl-C where it was started, or "
                f"`butterfly dev down --dir {root}`",
            )
        _refuse_taken_ports(layout)
        print(f"reusing the dev cluster in {layout.root} ({len(layout.nodes)} nodes)")
    procs = start_nodes(layout)
    try:
        wait_ready(layout, procs)
    except BaseException:
        stop_processes(procs)
        layout.pids_path.unlink(missing_ok=True)
        raise
    token = layout.token_path.read_text(encoding="utf-8").strip()
    for node in layout.nodes:
        print(f"  {node.node_id}: api {node.api_url_for(tls=layout.tls)}  peer {node.peer_addr}")
    print(f"export BUTTERFLY_API_URL={layout.nodes[0].api_url_for(tls=layout.tls)}")
    print(f"export BUTTERFLY_API_TOKEN={token}")
    if layout.tls:
        print(f"export SSL_CERT_FILE={layout.ca_path}")
    if args.detach:
        print(f"nodes running in the background; stop them with: butterfly dev down --dir {root}")
        return 0
    print("cluster ready; press Ctrl-C to stop it")
    stopping = False

    def _stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, _stop)
    try:
        while not stopping and all(p.poll() is None for p in procs):
            time.sleep(0.2)
    except KeyboardInterrupt:
        pass
    print("stopping the dev cluster")
    stop_processes(procs)
    layout.pids_path.unlink(missing_ok=True)
    return 0


def _refuse_taken_ports(layout: DevLayout) -> None:
    taken = ports_in_use(layout)
    if taken:
        raise UsageError(
            f"the dev cluster's ports are in use: {', '.join(taken)}",
            hint="another dev cluster may be running there (`butterfly dev down --dir DIR`), "
            "or pick other ports with --base-port and --api-base-port",
        )


def down(args: argparse.Namespace) -> int:
    layout = load_existing(Path(args.dir))
    if layout is None:
        raise UsageError(f"{args.dir} does not hold a dev cluster")
    count = stop_running(layout)
    print(f"stopped {count} node process(es)")
    return 0
