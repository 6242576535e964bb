"""A 4-node cluster with TLS on (as `dev up --tls` makes it): the API over TLS, peers over mTLS.

Its files name keys and certificates by paths relative to themselves, and the nodes
run from another directory.

The peer port requires a client certificate issued by the cluster's CA; a
certificate from another CA, even one naming a member, gets no further than
the TLS handshake, so none of its bytes reach the protocol.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from integration_harness import LocalCluster

from butterfly_config.client import ButterflyClient
from butterfly_config.errors import ConnectionFailed
from butterfly_config.node.security import tls_material
from butterfly_config.node.transport import MESSAGE_PATH

# Key and certificate paths relative to each node's file (the nodes run from another
# directory): the node must find them where validation does.
RELATIVE_PATHS = {
    "security.tls.cert_file": "tls/node.crt",
    "security.tls.key_file": "tls/node.key",
    "security.tls.ca_file": "../tls/ca.crt",
    "security.signing.private_key_file": "keys/signing.key",
}


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path_factory.mktemp("tls") / "cluster", 4, tls=True,
                      options=RELATIVE_PATHS) as local:
        yield local


@pytest.fixture(scope="module")
def rogue_node_cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    """A certificate for "node-1" from a CA the cluster does not trust."""
    directory = tmp_path_factory.mktemp("rogue")
    ca = tls_material.create_cluster_ca("rogue CA")
    files = tls_material.write_pem(tls_material.issue_node_certificate(ca, "node-1"),
                                   directory / "node-1.crt", directory / "node-1.key")
    return str(files.cert_file), str(files.key_file)


def peer_client(cluster: LocalCluster, cert: tuple[str, str] | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(cluster.layout.ca_path))
    if cert is not None:
        context.load_cert_chain(*cert)
    return httpx.Client(verify=context, timeout=5.0, trust_env=False)


def member_cert(cluster: LocalCluster, index: int) -> tuple[str, str]:
    tls = cluster.node(index).home / "tls"
    return str(tls / "node.crt"), str(tls / "node.key")


def test_the_api_is_served_over_tls_only(cluster: LocalCluster) -> None:
    assert cluster.url(0).startswith("https://")
    document, revision, _ = cluster.client(0).get()
    assert isinstance(document, dict) and document["security"]["tls"]["enabled"] is True
    assert revision >= 0
    # Not in the clear, and not to a client that does not trust the cluster's CA.
    with httpx.Client(timeout=5.0, trust_env=False) as plain, pytest.raises(httpx.HTTPError):
        plain.get(cluster.url(0).replace("https://", "http://") + "/healthz")
    with ButterflyClient(cluster.url(0), token=cluster.token, timeout=5.0) as untrusting, \
            pytest.raises(ConnectionFailed, match="certificate verification failed"):
        untrusting.get()


def test_peers_agree_over_mtls(cluster: LocalCluster) -> None:
    before, _ = cluster.wait_converged()
    cluster.client(2).set("network.compression.level", 6)
    revision, cluster_hash = cluster.wait_converged(at_least=before + 1)
    assert revision == before + 1

    def every_peer_reported() -> bool:
        # Peers' revisions in the status come from their (mTLS) heartbeats.
        nodes = cluster.client(0).status()["nodes"]
        return ({n["state"] for n in nodes} == {"ready"}
                and {(n["revision"], n["cluster_hash"]) for n in nodes} == {
                    (revision, cluster_hash)})

    cluster.wait_for("node-0 to hear every peer on the new revision", every_peer_reported)


def test_the_peer_port_refuses_clients_without_a_cluster_certificate(
        cluster: LocalCluster, rogue_node_cert: tuple[str, str]) -> None:
    before = cluster.wait_converged()
    url = cluster.peer_url(1) + MESSAGE_PATH
    body = b"\x00" * 64
    # A member's certificate gets through TLS (the protocol then drops the garbage).
    with peer_client(cluster, member_cert(cluster, 2)) as member:
        assert member.post(url, content=body).status_code == 202
    for name, cert in (("no certificate", None), ("rogue CA", rogue_node_cert)):
        with peer_client(cluster, cert) as stranger, pytest.raises(httpx.TransportError):
            stranger.post(url, content=body, headers={"X-Butterfly-Node": "node-1"})
            pytest.fail(f"{name}: the peer port answered")
    with httpx.Client(timeout=5.0, trust_env=False) as plain, pytest.raises(httpx.HTTPError):
        plain.post(url.replace("https://", "http://"), content=body)
    assert cluster.wait_converged() == before


def test_a_node_with_a_rogue_certificate_cannot_join(cluster: LocalCluster,
                                                     rogue_node_cert: tuple[str, str]) -> None:
    """node-3 restarted with a certificate from another CA: nobody talks to it, and it
    never becomes ready, while the other three carry on."""
    before, _ = cluster.wait_converged()
    tls = cluster.node(3).home / "tls"
    saved = {name: (tls / name).read_bytes() for name in ("node.crt", "node.key")}
    cluster.stop_node(3)
    try:
        (tls / "node.crt").write_bytes(Path(rogue_node_cert[0]).read_bytes())
        (tls / "node.key").write_bytes(Path(rogue_node_cert[1]).read_bytes())
        cluster.start_node(3, wait=False)
        cluster.client(0).set("network.compression.level", 2)
        cluster.wait_converged([0, 1, 2], at_least=before + 1)
        # Its own API (under the rogue certificate) says it is not ready and still on the
        # revision it had.
        with httpx.Client(timeout=2.0, trust_env=False, verify=False) as insecure:
            # the others may commit before node-3 has even started listening
            ready = cluster.wait_for("node-3's API to answer",
                                     lambda: insecure.get(f"{cluster.url(3)}/readyz"), 30)
            assert ready.status_code == 503
            config = insecure.get(f"{cluster.url(3)}/api/v1/config",
                                  headers={"Authorization": f"Bearer {cluster.token}"})
        assert int(config.headers["x-config-revision"]) == before
    finally:
        cluster.stop_node(3)
        for name, data in saved.items():
            (tls / name).write_bytes(data)
    cluster.start_node(3)
    assert cluster.wait_converged(at_least=before + 1)[0] == before + 1
