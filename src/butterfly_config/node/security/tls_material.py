"""TLS material for a cluster: a CA, node and client certificates, SSL contexts.

`butterfly dev up --tls` uses `write_cluster_tls` to make a private CA (ECDSA
P-256, self-signed, 10 years), one certificate per node (SAN IP 127.0.0.1 and
DNS localhost plus any extra names; serverAuth and clientAuth, because nodes
are both servers and clients of their peers) and one client certificate for
the CLI (clientAuth). Private keys are PEM files with mode 0600.

`server_ssl_context` / `client_ssl_context` build contexts that enforce
`security.tls.min_tls_version` and, for servers, `verify_client` (mTLS).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from butterfly_config import input_files
from butterfly_config.errors import ConfigError, ConfigIOError, ConfigIssue

CA_VALID_DAYS = 3650
LEAF_VALID_DAYS = 825
_TLS_VERSIONS = {"1.2": ssl.TLSVersion.TLSv1_2, "1.3": ssl.TLSVersion.TLSv1_3}


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate and its private key, in memory."""

    certificate: x509.Certificate
    private_key: ec.EllipticCurvePrivateKey

    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


@dataclass(frozen=True)
class TlsFiles:
    """Paths of one certificate/key pair on disk."""

    cert_file: Path
    key_file: Path


@dataclass(frozen=True)
class ClusterTlsFiles:
    """Everything `write_cluster_tls` wrote."""

    ca_file: Path
    ca_key_file: Path
    nodes: dict[str, TlsFiles]
    client: TlsFiles


def _name(common_name: str, units: Sequence[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    attributes += [x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, u) for u in units]
    attributes.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, "butterfly"))
    return x509.Name(attributes)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def create_cluster_ca(
    common_name: str = "butterfly cluster CA", valid_days: int = CA_VALID_DAYS
) -> CertifiedKey:
    """A self-signed CA that may sign leaf certificates only (path length 0)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = _name(common_name)
    start = _now() - dt.timedelta(minutes=5)
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(cert, key)


def _issue(
    ca: CertifiedKey,
    common_name: str,
    usages: list[x509.ObjectIdentifier],
    san: list[x509.GeneralName],
    units: Sequence[str],
    valid_days: int,
) -> CertifiedKey:
    key = ec.generate_private_key(ec.SECP256R1())
    start = _now() - dt.timedelta(minutes=5)
    not_after = min(start + dt.timedelta(days=valid_days), ca.certificate.not_valid_after_utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name, units))
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.private_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return CertifiedKey(builder.sign(ca.private_key, hashes.SHA256()), key)


def issue_node_certificate(
    ca: CertifiedKey,
    node_id: str,
    *,
    ip_addresses: Iterable[str] = ("127.0.0.1",),
    dns_names: Iterable[str] = ("localhost",),
    valid_days: int = LEAF_VALID_DAYS,
) -> CertifiedKey:
    """A node certificate (CN = node_id) usable as TLS server and TLS client."""
    san: list[x509.GeneralName] = [x509.IPAddress(ipaddress.ip_address(ip)) for ip in ip_addresses]
    san += [x509.DNSName(name) for name in dns_names]
    usages = [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
    return _issue(ca, node_id, usages, san, (), valid_days)


def issue_client_certificate(
    ca: CertifiedKey,
    name: str = "butterfly-cli",
    *,
    roles: Sequence[str] = (),
    valid_days: int = LEAF_VALID_DAYS,
) -> CertifiedKey:
    """A client certificate (CN and DNS SAN = name); `roles` become OU attributes.

    The SAN is there because strict RFC 5280 verifiers require one in every
    leaf; `mtls.certificate_identity` names the client by its CN.
    """
    san: list[x509.GeneralName] = [x509.DNSName(name)]
    return _issue(ca, name, [ExtendedKeyUsageOID.CLIENT_AUTH], san, roles, valid_days)


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write atomically via a temp file created with `mode` (keys never exist world-readable)."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def write_pem(material: CertifiedKey, cert_file: Path, key_file: Path) -> TlsFiles:
    """Write the certificate (0644) and key (0600) as PEM files."""
    try:
        cert_file.parent.mkdir(parents=True, exist_ok=True)
        key_file.parent.mkdir(parents=True, exist_ok=True)
        _write(key_file, material.key_pem(), 0o600)
        _write(cert_file, material.cert_pem(), 0o644)
    except OSError as exc:
        raise ConfigIOError(
            f"{exc.filename or cert_file}: cannot write TLS material: {exc.strerror or exc}"
        ) from exc
    return TlsFiles(cert_file, key_file)


def write_cluster_tls(
    directory: str | os.PathLike[str],
    node_ids: Sequence[str],
    *,
    client_name: str = "butterfly-cli",
    client_roles: Sequence[str] = ("admin",),
) -> ClusterTlsFiles:
    """CA, one certificate per node and a CLI client certificate under `directory`.

    Layout: ca.crt, ca.key, <node_id>.crt, <node_id>.key, <client_name>.crt/.key.
    """
    root = Path(directory)
    try:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigIOError(f"{root}: cannot create directory: {exc.strerror or exc}") from exc
    ca = create_cluster_ca()
    ca_files = write_pem(ca, root / "ca.crt", root / "ca.key")
    nodes = {
        node_id: write_pem(
            issue_node_certificate(ca, node_id), root / f"{node_id}.crt", root / f"{node_id}.key"
        )
        for node_id in node_ids
    }
    client = write_pem(
        issue_client_certificate(ca, client_name, roles=client_roles),
        root / f"{client_name}.crt",
        root / f"{client_name}.key",
    )
    return ClusterTlsFiles(ca_files.cert_file, ca_files.key_file, nodes, client)


def load_certificate(path: str | os.PathLike[str]) -> x509.Certificate:
    """A PEM certificate; I/O and format problems are operator-readable errors."""
    file = Path(path)
    try:
        data = input_files.read_bytes(file)
    except OSError as exc:
        raise ConfigIOError(f"{file}: cannot read certificate: {exc.strerror or exc}") from exc
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise _tls_error(f"{file}: not a PEM certificate", str(file), "") from exc


def _tls_error(message: str, file: str | None, option: str, hint: str = "") -> ConfigError:
    issue = ConfigIssue(path=option, message=message, hint=hint, rule="tls", file=file)
    return ConfigError(message, [issue], hint=hint)


def _tls_version(min_tls_version: str) -> ssl.TLSVersion:
    try:
        return _TLS_VERSIONS[min_tls_version]
    except KeyError:
        raise _tls_error(
            f"unsupported min_tls_version {min_tls_version!r}",
            None,
            "security.tls.min_tls_version",
            'use "1.2" or "1.3"',
        ) from None


def _load_into(
    context: ssl.SSLContext,
    ca_file: str | os.PathLike[str] | None,
    cert_file: str | os.PathLike[str] | None,
    key_file: str | os.PathLike[str] | None,
) -> None:
    step = ("security.tls.ca_file", ca_file)
    try:
        if ca_file is not None:
            context.load_verify_locations(cafile=os.fspath(ca_file))
        if cert_file is not None:
            step = ("security.tls.cert_file", cert_file)
            context.load_cert_chain(
                os.fspath(cert_file), None if key_file is None else os.fspath(key_file)
            )
    except FileNotFoundError as exc:
        raise ConfigIOError(f"{step[1]}: file not found", hint=f"check {step[0]}") from exc
    except (ssl.SSLError, OSError) as exc:
        raise _tls_error(
            f"{step[1]}: cannot load TLS material ({exc.__class__.__name__})",
            os.fspath(step[1]) if step[1] is not None else None,
            step[0],
            "the files must be PEM; the key must belong to the certificate",
        ) from exc


def _apply_ciphers(context: ssl.SSLContext, cipher_suites: Sequence[str]) -> None:
    """TLS 1.2 cipher list; TLS 1.3 suites are fixed by OpenSSL and always secure."""
    if not cipher_suites:
        return
    try:
        context.set_ciphers(":".join(cipher_suites))
    except ssl.SSLError as exc:
        raise _tls_error(
            "no usable cipher in security.tls.cipher_suites",
            None,
            "security.tls.cipher_suites",
            "use OpenSSL cipher names, or leave the list empty for secure defaults",
        ) from exc


def server_ssl_context(
    cert_file: str | os.PathLike[str],
    key_file: str | os.PathLike[str],
    ca_file: str | os.PathLike[str] | None,
    verify_client: bool,
    *,
    min_tls_version: str = "1.3",
    cipher_suites: Sequence[str] = (),
    session_tickets: bool = True,
) -> ssl.SSLContext:
    """A server context; with `verify_client` a CA-signed client certificate is required.

    `session_tickets` is `security.tls.session_resumption`: False turns tickets off.
    """
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = _tls_version(min_tls_version)
    _apply_ciphers(context, cipher_suites)
    if not session_tickets:
        context.options |= ssl.OP_NO_TICKET
    if verify_client and ca_file is None:
        raise _tls_error(
            "verify_client needs a CA file to check client certificates against",
            None,
            "security.tls.ca_file",
            "set security.tls.ca_file",
        )
    _load_into(context, ca_file, cert_file, key_file)
    context.verify_mode = ssl.CERT_REQUIRED if verify_client else ssl.CERT_NONE
    return context


def client_ssl_context(
    ca_file: str | os.PathLike[str] | None,
    cert_file: str | os.PathLike[str] | None = None,
    key_file: str | os.PathLike[str] | None = None,
    *,
    min_tls_version: str = "1.3",
    cipher_suites: Sequence[str] = (),
) -> ssl.SSLContext:
    """A client context verifying the server against `ca_file` (system CAs when None)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = _tls_version(min_tls_version)
    _apply_ciphers(context, cipher_suites)
    if ca_file is None:
        context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    _load_into(context, ca_file, cert_file, key_file)
    context.check_hostname = True
    context.verify_mode = ssl.CERT_REQUIRED
    return context
