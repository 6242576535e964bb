"""[security]: TLS, message signing, access control, API authentication, encryption at rest."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Section
from .options import option
from .types import Flag, NonEmptyStr, NonNegativeInt, PathText, PositiveInt

TlsVersion = Literal["1.2", "1.3"]
SigningAlgorithm = Literal["ed25519", "ecdsa_p256", "rsa_2048"]
Verification = Literal["strict", "warn", "none"]
AccessPolicy = Literal["rbac", "acl", "none"]
DefaultAction = Literal["allow", "deny"]
AuthMethod = Literal["jwt", "api_key", "mtls", "none"]
EncryptionAlgorithm = Literal["aes-256-gcm", "chacha20-poly1305"]


class TlsSection(Section):
    """TLS between nodes; set up when the transport starts."""

    enabled: Flag = option(
        True, scope="cluster", mutability="static",
        description="Encrypt peer traffic with TLS.",
    )
    cert_file: PathText = option(
        "/etc/butterfly/certs/node.crt", scope="node", mutability="static",
        description="This node's certificate (PEM).",
    )
    key_file: PathText = option(
        "/etc/butterfly/certs/node.key", scope="node", mutability="static",
        description="Private key of this node's certificate (PEM).",
    )
    ca_file: PathText = option(
        "/etc/butterfly/certs/ca.crt", scope="cluster", mutability="static",
        description="Certificate authority that signs every node's certificate (PEM).",
    )
    verify_client: Flag = option(
        True, scope="cluster", mutability="static",
        description="Require peers to present a certificate too (mutual TLS).",
    )
    min_tls_version: TlsVersion = option(
        "1.3", scope="cluster", mutability="static",
        description="Oldest TLS version accepted.",
    )
    cipher_suites: tuple[NonEmptyStr, ...] = option(
        (), scope="cluster", mutability="static",
        description="Allowed cipher suites; empty uses the library's secure defaults.",
    )
    session_resumption: Flag = option(
        True, scope="node", mutability="static",
        description="Let peers resume earlier TLS sessions without a full handshake.",
    )
    session_ticket_lifetime_secs: NonNegativeInt = option(
        3600, scope="node", mutability="static", unit="secs",
        description="How long a session ticket stays valid.",
    )


class SigningSection(Section):
    """Signatures on peer messages; every vote and certificate depends on them."""

    algorithm: SigningAlgorithm = option(
        "ed25519", scope="cluster", mutability="static",
        description="Signature algorithm of peer messages.",
    )
    private_key_file: PathText = option(
        "/etc/butterfly/keys/signing.key", scope="node", mutability="static",
        description="This node's signing key (PEM).",
    )
    public_key_file: PathText = option(
        "/etc/butterfly/keys/signing.pub", scope="node", mutability="static",
        description="This node's verify key (PEM).",
    )
    sign_all_messages: Flag = option(
        True, scope="cluster", mutability="static",
        description="Sign every peer message, not only votes and certificates.",
    )
    verification: Verification = option(
        "strict", scope="cluster", mutability="static",
        description="What a bad signature does: reject the message, log a warning, or nothing.",
    )


class AccessControlSection(Section):
    """Who may do what through the API."""

    enabled: Flag = option(
        True, scope="cluster", mutability="dynamic",
        description="Check permissions on API requests.",
    )
    policy: AccessPolicy = option(
        "rbac", scope="cluster", mutability="dynamic",
        description="Policy model: roles, access lists, or none.",
    )
    policy_file: PathText = option(
        "/etc/butterfly/policies/rbac.toml", scope="cluster", mutability="dynamic",
        description="File mapping roles to permissions.",
    )
    default_action: DefaultAction = option(
        "deny", scope="cluster", mutability="dynamic",
        description="Decision when the policy says nothing about a request.",
    )
    audit_logging: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Write every access decision to the audit log.",
    )


class ApiSection(Section):
    """Authentication of API clients."""

    require_auth: Flag = option(
        True, scope="cluster", mutability="static",
        description="Refuse API requests without valid credentials.",
    )
    auth_method: AuthMethod = option(
        "jwt", scope="cluster", mutability="static",
        description="How API clients prove who they are.",
    )
    jwt_secret_file: PathText = option(
        "/etc/butterfly/secrets/jwt.key", scope="node", mutability="static",
        description="File holding the HS256 secret, used when auth_method is jwt.",
    )
    token_expiry_secs: PositiveInt = option(
        3600, scope="cluster", mutability="dynamic", unit="secs",
        description="Lifetime of issued tokens.",
    )
    jwt_issuer: NonEmptyStr = option(
        "butterfly-cluster", scope="cluster", mutability="dynamic",
        description="Issuer (iss) a token must name.",
    )
    jwt_audience: NonEmptyStr = option(
        "butterfly-api", scope="cluster", mutability="dynamic",
        description="Audience (aud) a token must name.",
    )
    api_key_file: PathText | None = option(
        None, scope="node", mutability="static",
        description="File of accepted API keys, used when auth_method is api_key.",
        example="/etc/butterfly/secrets/api_keys.toml",
    )
    rate_limiting: Flag = option(
        True, scope="node", mutability="dynamic",
        description="Rate-limit API requests per client.",
    )
    max_failed_auth_attempts: PositiveInt = option(
        5, scope="node", mutability="dynamic", unit="attempts",
        description="Failed logins from one address before it is locked out.",
    )
    lockout_duration_secs: NonNegativeInt = option(
        300, scope="node", mutability="dynamic", unit="secs",
        description="How long a locked-out address stays locked out.",
    )


class EncryptionAtRestSection(Section):
    """Encryption of what the node stores; chosen before anything is written."""

    enabled: Flag = option(
        False, scope="node", mutability="static",
        description="Encrypt data on disk.",
    )
    algorithm: EncryptionAlgorithm = option(
        "aes-256-gcm", scope="node", mutability="static",
        description="Cipher for data on disk.",
    )
    key_file: PathText | None = option(
        None, scope="node", mutability="static",
        description="File holding the encryption key.",
        example="/etc/butterfly/keys/encryption.key",
    )
    encrypt_checkpoints: Flag = option(
        True, scope="node", mutability="static",
        description="Encrypt checkpoints.",
    )
    encrypt_models: Flag = option(
        False, scope="node", mutability="static",
        description="Encrypt model weights.",
    )
    encrypt_logs: Flag = option(
        False, scope="node", mutability="static",
        description="Encrypt log files.",
    )


class SecuritySection(Section):
    """Authentication, encryption and access control."""

    tls: TlsSection = Field(default_factory=TlsSection)
    signing: SigningSection = Field(default_factory=SigningSection)
    access_control: AccessControlSection = Field(default_factory=AccessControlSection)
    api: ApiSection = Field(default_factory=ApiSection)
    encryption_at_rest: EncryptionAtRestSection = Field(default_factory=EncryptionAtRestSection)
