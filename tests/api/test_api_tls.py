"""HTTPS and mTLS: the client certificate reaches the app through the ASGI TLS extension."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest
from api_fakes import FakeConfigService
from api_helpers import POLICY, jwt_settings, live_server

from butterfly_config.client import ButterflyClient, RemoteAccessDenied
from butterfly_config.errors import ConnectionFailed
from butterfly_config.node.security.tls_material import (
    ClusterTlsFiles,
    create_cluster_ca,
    issue_client_certificate,
    server_ssl_context,
    write_cluster_tls,
    write_pem,
)

MTLS = jwt_settings(auth_method="mtls", jwt_secret=b"", policy=POLICY)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> ClusterTlsFiles:
    return write_cluster_tls(tmp_path_factory.mktemp("tls"), ["node-a"],
                             client_roles=("operator",))


def server_context(tls: ClusterTlsFiles, verify_mode: ssl.VerifyMode) -> ssl.SSLContext:
    node = tls.nodes["node-a"]
    context = server_ssl_context(node.cert_file, node.key_file, tls.ca_file,
                                 verify_client=verify_mode == ssl.CERT_REQUIRED)
    if verify_mode == ssl.CERT_OPTIONAL:
        context.verify_mode = ssl.CERT_OPTIONAL
    return context


def client_for(url: str, tls: ClusterTlsFiles, cert: tuple[Path, Path] | None
               ) -> ButterflyClient:
    return ButterflyClient(url, timeout=10, verify=str(tls.ca_file),
                           cert=(str(cert[0]), str(cert[1])) if cert else None)


def test_mtls_identity_and_roles_come_from_the_certificate(tls: ClusterTlsFiles) -> None:
    service = FakeConfigService()
    context = server_context(tls, ssl.CERT_REQUIRED)
    with live_server(service, MTLS, ssl_context=context) as server:
        assert server.url.startswith("https://")
        cli_cert = (tls.client.cert_file, tls.client.key_file)
        with client_for(server.url, tls, cli_cert) as client:
            assert client.set("scheduling.policy", "custom")["revision"] == 1
            assert client.history(limit=1)[0]["initiator"] == "butterfly-cli"
            with pytest.raises(RemoteAccessDenied) as info:
                client.sync()  # operator lacks cluster:admin
            assert info.value.status == 403


def test_reader_certificate_cannot_write(tls: ClusterTlsFiles, tmp_path: Path) -> None:
    # A second CA-signed client whose OU grants only reading. The module's CA key
    # is not kept in memory, so issue under a fresh CA the server also trusts.
    ca = create_cluster_ca()
    ca_files = write_pem(ca, tmp_path / "ca2.crt", tmp_path / "ca2.key")
    reader = write_pem(issue_client_certificate(ca, "dashboard", roles=("reader",)),
                       tmp_path / "dashboard.crt", tmp_path / "dashboard.key")
    context = server_context(tls, ssl.CERT_REQUIRED)
    context.load_verify_locations(cafile=str(ca_files.cert_file))
    with live_server(FakeConfigService(), MTLS, ssl_context=context) as server, \
            client_for(server.url, tls, (reader.cert_file, reader.key_file)) as client:
        assert client.get()[1] == 0
        with pytest.raises(RemoteAccessDenied) as info:
            client.set("scheduling.policy", "custom")
        assert info.value.status == 403
        assert "dashboard" in info.value.message


def test_no_client_certificate(tls: ClusterTlsFiles) -> None:
    # Required by the TLS layer: the handshake fails, the client reports a connection error.
    with live_server(FakeConfigService(), MTLS,
                     ssl_context=server_context(tls, ssl.CERT_REQUIRED)) as server, \
            client_for(server.url, tls, None) as client, pytest.raises(ConnectionFailed) as info:
        client.get()
    assert info.value.exit_code == 2
    # Optional at the TLS layer: the request arrives and the API answers 401.
    with live_server(FakeConfigService(), MTLS,
                     ssl_context=server_context(tls, ssl.CERT_OPTIONAL)) as server, \
            client_for(server.url, tls, None) as client:
        with pytest.raises(RemoteAccessDenied) as refused:
            client.get()
        assert refused.value.status == 401
        assert client.health()["live"] is True


def test_unverified_certificates_are_not_trusted(tls: ClusterTlsFiles) -> None:
    """A server context that does not verify client certs reports none to the app."""
    cli_cert = (tls.client.cert_file, tls.client.key_file)
    with live_server(FakeConfigService(), MTLS,
                     ssl_context=server_context(tls, ssl.CERT_NONE)) as server, \
            client_for(server.url, tls, cli_cert) as client, \
            pytest.raises(RemoteAccessDenied) as info:
        client.get()
    assert info.value.status == 401


def test_wrong_ca_is_a_connection_error(tls: ClusterTlsFiles, tmp_path: Path) -> None:
    other = write_pem(create_cluster_ca(), tmp_path / "other.crt", tmp_path / "other.key")
    with live_server(FakeConfigService(), MTLS,
                     ssl_context=server_context(tls, ssl.CERT_REQUIRED)) as server, \
            ButterflyClient(server.url, verify=str(other.cert_file)) as client, \
            pytest.raises(ConnectionFailed) as info:
        client.get()
    assert "certificate verification failed" in info.value.message


def test_ssl_cert_file_is_honoured_for_the_server_ca(tls: ClusterTlsFiles,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`butterfly dev up --tls` tells operators to export SSL_CERT_FILE=ca.crt."""
    settings = jwt_settings(auth_method="none")
    with live_server(FakeConfigService(), settings,
                     ssl_context=server_context(tls, ssl.CERT_NONE)) as server:
        with ButterflyClient(server.url) as plain, pytest.raises(ConnectionFailed):
            plain.get()
        monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca_file))
        with ButterflyClient(server.url) as trusting:
            assert trusting.get()[1] == 0


def test_cli_over_mtls(tls: ClusterTlsFiles, capsys: pytest.CaptureFixture[str],
                       tmp_path: Path) -> None:
    from butterfly_config.cli.main import main

    service = FakeConfigService()
    with live_server(service, MTLS, ssl_context=server_context(tls, ssl.CERT_OPTIONAL)) as server:
        tls_args = ["--url", server.url, "--ca-file", str(tls.ca_file),
                    "--client-cert", str(tls.client.cert_file),
                    "--client-key", str(tls.client.key_file)]
        assert main(["config", "update", "--key", "scheduling.policy", "--value", "custom",
                     *tls_args]) == 0
        assert "committed revision 1" in capsys.readouterr().out
        assert main(["config", "history", *tls_args[:4]]) == 2  # no client certificate: 401
        assert "HTTP 401" in capsys.readouterr().err
        assert main(["config", "history", *tls_args[:2]]) == 2  # private CA not trusted
        assert "certificate verification failed" in capsys.readouterr().err
        missing = str(tmp_path / "nope.crt")
        assert main(["config", "history", "--url", server.url, "--ca-file", missing]) == 2
        assert "--ca-file" in capsys.readouterr().err
        assert main(["config", "history", "--url", server.url,
                     "--client-key", str(tls.client.key_file)]) == 2
        assert service.revision == 1
