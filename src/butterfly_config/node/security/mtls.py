"""Client identity from a verified TLS client certificate (`auth_method = "mtls"`).

The TLS layer has already verified the chain against `security.tls.ca_file`;
this module only names the caller and finds its roles:

- identity: the subject's commonName; without one, the first DNS name, then
  the first URI, e-mail or IP address of the subjectAltName extension;
- roles: the policy's `[subjects.<name>] roles` for the identity, or for any
  of the certificate's SAN names when the identity itself is not listed;
  when the policy lists none of them, every organizationalUnitName (OU) of
  the subject is taken as a role, so a CA can issue role-bearing certificates
  without editing the policy file.

Accepted inputs: a `cryptography.x509.Certificate`, or the dict that
`ssl.SSLSocket.getpeercert()` returns (empty when the peer sent no verified
certificate: that is refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from butterfly_config.node.security.errors import UntrustedCertificate
from butterfly_config.node.security.principal import Principal

PeerCert = x509.Certificate | Mapping[str, Any]

_SAN_ORDER = ("DNS", "URI", "email", "IP Address")


def _names_from_x509(cert: x509.Certificate) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    common = [str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    units = [
        str(a.value) for a in cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    ]
    sans: list[tuple[str, str]] = []
    try:
        extension = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
    except x509.ExtensionNotFound:
        return common, sans, units
    names = extension.value
    sans += [("DNS", v) for v in names.get_values_for_type(x509.DNSName)]
    sans += [("URI", v) for v in names.get_values_for_type(x509.UniformResourceIdentifier)]
    sans += [("email", v) for v in names.get_values_for_type(x509.RFC822Name)]
    sans += [("IP Address", str(v)) for v in names.get_values_for_type(x509.IPAddress)]
    return common, sans, units


def _names_from_dict(cert: Mapping[str, Any]) -> tuple[list[str], list[tuple[str, str]], list[str]]:
    common: list[str] = []
    units: list[str] = []
    for rdn in cert.get("subject", ()):
        for attribute, value in rdn:
            if attribute == "commonName":
                common.append(str(value))
            elif attribute == "organizationalUnitName":
                units.append(str(value))
    sans = [(str(kind), str(value)) for kind, value in cert.get("subjectAltName", ())]
    return common, sans, units


def certificate_identity(
    cert: PeerCert | None, subjects: Mapping[str, frozenset[str]] | None = None
) -> Principal:
    """The `Principal` a verified client certificate stands for (see the module doc).

    `subjects` is `rbac.Policy.subjects`; pass None to take roles from OUs only.
    """
    if cert is None or (not isinstance(cert, x509.Certificate) and not cert):
        raise UntrustedCertificate("no verified client certificate was presented")
    if isinstance(cert, x509.Certificate):
        common, sans, units = _names_from_x509(cert)
    else:
        common, sans, units = _names_from_dict(cert)
    ordered_sans = sorted(
        sans, key=lambda kv: _SAN_ORDER.index(kv[0]) if kv[0] in _SAN_ORDER else len(_SAN_ORDER)
    )
    candidates = [*common, *(value for _, value in ordered_sans)]
    if not candidates:
        raise UntrustedCertificate("the client certificate names no subject (no CN or SAN)")
    identity = candidates[0]
    mapping = subjects or {}
    for name in candidates:
        if name in mapping:
            return Principal(subject=identity, roles=frozenset(mapping[name]), method="mtls")
    return Principal(subject=identity, roles=frozenset(units), method="mtls")
