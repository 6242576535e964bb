"""TLS material: chain verification, key permissions and real handshakes on 127.0.0.1."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
import threading
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from butterfly_config.errors import ConfigError, ConfigIOError
from butterfly_config.node.security import (
    certificate_identity,
    client_ssl_context,
    server_ssl_context,
    write_cluster_tls,
)
from butterfly_config.node.security.tls_material import (
    ClusterTlsFiles,
    create_cluster_ca,
    issue_client_certificate,
    issue_node_certificate,
    load_certificate,
    write_pem,
)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> ClusterTlsFiles:
    return write_cluster_tls(tmp_path_factory.mktemp("tls"), ["node1", "node2"])


def test_files_and_key_permissions(cluster: ClusterTlsFiles) -> None:
    keys = [
        cluster.ca_key_file,
        cluster.client.key_file,
        *(n.key_file for n in cluster.nodes.values()),
    ]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key
    assert stat.S_IMODE(cluster.ca_file.parent.stat().st_mode) == 0o700
    assert set(cluster.nodes) == {"node1", "node2"}


def test_node_certificate_chains_to_ca(cluster: ClusterTlsFiles) -> None:
    ca = load_certificate(cluster.ca_file)
    node = load_certificate(cluster.nodes["node1"].cert_file)
    node.verify_directly_issued_by(ca)
    assert (ca.not_valid_after_utc - ca.not_valid_before_utc).days >= 3649
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    san = node.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.1"]
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    usages = node.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert set(usages) == {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH}
    other_ca = create_cluster_ca()
    with pytest.raises(InvalidSignature):
        node.verify_directly_issued_by(other_ca.certificate)


def test_full_path_validation_for_server_and_client(cluster: ClusterTlsFiles) -> None:
    store = Store([load_certificate(cluster.ca_file)])
    node = load_certificate(cluster.nodes["node1"].cert_file)
    client = load_certificate(cluster.client.cert_file)
    builder = PolicyBuilder().store(store)
    server_verifier = builder.build_server_verifier(x509.DNSName("localhost"))
    assert server_verifier.verify(node, [])[-1] == store_root(cluster)
    ip_verifier = builder.build_server_verifier(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
    ip_verifier.verify(node, [])
    builder.build_client_verifier().verify(client, [])
    builder.build_client_verifier().verify(node, [])  # nodes are clients of their peers
    with pytest.raises(VerificationError):
        server_verifier.verify(client, [])  # a client certificate cannot serve


def store_root(cluster: ClusterTlsFiles) -> x509.Certificate:
    return load_certificate(cluster.ca_file)


def _handshake(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, hostname: str = "localhost"
) -> tuple[dict[str, object] | None, str | None]:
    """Run one handshake; returns (peer cert seen by server, server-side error)."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    seen: dict[str, object] = {}

    def serve() -> None:
        conn, _ = listener.accept()
        try:
            with server_ctx.wrap_socket(conn, server_side=True) as tls:
                seen["cert"] = tls.getpeercert()
                tls.sendall(b"ok")
                tls.recv(1)
        except (ssl.SSLError, OSError) as exc:
            seen["error"] = repr(exc)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        with (
            socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
            client_ctx.wrap_socket(raw, server_hostname=hostname) as tls,
        ):
            assert tls.version() == "TLSv1.3"
            data = tls.recv(2)  # TLS 1.3 reports a refused client certificate here
            if data != b"ok":
                raise ssl.SSLError("server closed the connection")
            tls.sendall(b"x")
    finally:
        thread.join(5)
        listener.close()
    return seen.get("cert"), seen.get("error")  # type: ignore[return-value]


def test_mtls_handshake_and_identity(cluster: ClusterTlsFiles) -> None:
    node = cluster.nodes["node1"]
    server = server_ssl_context(node.cert_file, node.key_file, cluster.ca_file, True)
    client = client_ssl_context(cluster.ca_file, cluster.client.cert_file, cluster.client.key_file)
    peer, error = _handshake(server, client)
    assert error is None and peer
    principal = certificate_identity(peer)
    assert principal.subject == "butterfly-cli"
    assert principal.roles == frozenset({"admin"})  # from the OU
    assert principal.method == "mtls"


def test_node_to_node_mtls_and_hostname_by_ip(cluster: ClusterTlsFiles) -> None:
    a, b = cluster.nodes["node1"], cluster.nodes["node2"]
    server = server_ssl_context(a.cert_file, a.key_file, cluster.ca_file, True)
    client = client_ssl_context(cluster.ca_file, b.cert_file, b.key_file)
    peer, error = _handshake(server, client, hostname="127.0.0.1")
    assert error is None
    assert certificate_identity(peer).subject == "node2"


def test_client_without_certificate_is_refused(cluster: ClusterTlsFiles) -> None:
    node = cluster.nodes["node1"]
    server = server_ssl_context(node.cert_file, node.key_file, cluster.ca_file, True)
    client = client_ssl_context(cluster.ca_file)
    with pytest.raises((ssl.SSLError, OSError)):
        _handshake(server, client)


def test_client_with_foreign_certificate_is_refused(
    cluster: ClusterTlsFiles, tmp_path: Path
) -> None:
    rogue_ca = create_cluster_ca("rogue")
    rogue = write_pem(
        issue_client_certificate(rogue_ca, "mallory", roles=["admin"]),
        tmp_path / "m.crt",
        tmp_path / "m.key",
    )
    node = cluster.nodes["node1"]
    server = server_ssl_context(node.cert_file, node.key_file, cluster.ca_file, True)
    client = client_ssl_context(cluster.ca_file, rogue.cert_file, rogue.key_file)
    with pytest.raises((ssl.SSLError, OSError)):
        _handshake(server, client)


def test_client_refuses_server_of_another_ca(cluster: ClusterTlsFiles, tmp_path: Path) -> None:
    rogue_ca = create_cluster_ca("rogue")
    rogue = write_pem(
        issue_node_certificate(rogue_ca, "evil"), tmp_path / "e.crt", tmp_path / "e.key"
    )
    server = server_ssl_context(rogue.cert_file, rogue.key_file, None, False)
    client = client_ssl_context(cluster.ca_file)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(server, client)


def test_identity_roles_from_policy_subjects(cluster: ClusterTlsFiles) -> None:
    cert = load_certificate(cluster.nodes["node2"].cert_file)
    assert certificate_identity(cert).roles == frozenset()
    mapped = certificate_identity(cert, {"node2": frozenset({"operator"})})
    assert mapped.subject == "node2" and mapped.roles == frozenset({"operator"})
    by_san = certificate_identity(cert, {"localhost": frozenset({"reader"})})
    assert by_san.subject == "node2" and by_san.roles == frozenset({"reader"})


def test_identity_from_san_only_dict_and_refusals() -> None:
    from butterfly_config.node.security import UntrustedCertificate

    peer = {
        "subject": ((("organizationName", "x"),),),
        "subjectAltName": (("IP Address", "10.0.0.1"), ("DNS", "svc.local")),
    }
    assert certificate_identity(peer).subject == "svc.local"
    with pytest.raises(UntrustedCertificate):
        certificate_identity({})
    with pytest.raises(UntrustedCertificate):
        certificate_identity(None)
    with pytest.raises(UntrustedCertificate):
        certificate_identity({"subject": ()})


def test_context_errors_are_operator_readable(cluster: ClusterTlsFiles, tmp_path: Path) -> None:
    node = cluster.nodes["node1"]
    with pytest.raises(ConfigIOError, match="not found"):
        server_ssl_context(tmp_path / "absent.crt", node.key_file, cluster.ca_file, True)
    with pytest.raises(ConfigError, match="min_tls_version"):
        client_ssl_context(cluster.ca_file, min_tls_version="1.0")
    with pytest.raises(ConfigError, match="verify_client"):
        server_ssl_context(node.cert_file, node.key_file, None, True)
    with pytest.raises(ConfigError, match="cannot load TLS material"):
        server_ssl_context(node.cert_file, cluster.nodes["node2"].key_file, None, False)
    with pytest.raises(ConfigError, match="cipher"):
        client_ssl_context(cluster.ca_file, min_tls_version="1.2", cipher_suites=["NOPE"])


def test_session_tickets_can_be_turned_off(cluster: ClusterTlsFiles) -> None:
    node = cluster.nodes["node1"]
    on = server_ssl_context(node.cert_file, node.key_file, cluster.ca_file, True)
    off = server_ssl_context(
        node.cert_file, node.key_file, cluster.ca_file, True, session_tickets=False
    )
    assert not on.options & ssl.OP_NO_TICKET
    assert off.options & ssl.OP_NO_TICKET
    assert off.minimum_version == ssl.TLSVersion.TLSv1_3
