"""API and peer security pieces, free of any web framework.

The HTTP layer calls these: JWT / API key / mTLS authentication producing a
`Principal`, RBAC policies, failed-auth lockout, TLS material and contexts,
and signing key pairs. `butterfly keys generate` uses
`generate_signing_keypair`; `butterfly token create` and `dev up` use
`create_token`.
"""

from butterfly_config.node.security.api_keys import (
    ApiKeyStore,
    api_key_from_headers,
    generate_api_key,
    hash_api_key,
)
from butterfly_config.node.security.errors import (
    AuthError,
    BadSignature,
    LockedOut,
    MalformedToken,
    MissingCredentials,
    PermissionDenied,
    TokenExpired,
    TokenNotYetValid,
    UnknownApiKey,
    UntrustedCertificate,
    WrongAudience,
    WrongIssuer,
)
from butterfly_config.node.security.jwt_auth import (
    JwtVerifier,
    bearer_token,
    create_token,
    load_jwt_secret,
)
from butterfly_config.node.security.lockout import AuthLockout
from butterfly_config.node.security.mtls import certificate_identity
from butterfly_config.node.security.principal import Principal
from butterfly_config.node.security.rbac import Policy, default_policy_toml
from butterfly_config.node.security.signing_keys import (
    SIGNING_ALGORITHMS,
    KeyPairPaths,
    generate_signing_keypair,
    load_private_key,
    load_verify_key,
    public_key_b64,
    sign_bytes,
    verify_signature,
)
from butterfly_config.node.security.tls_material import (
    client_ssl_context,
    server_ssl_context,
    write_cluster_tls,
)

__all__ = [
    "SIGNING_ALGORITHMS",
    "ApiKeyStore",
    "AuthError",
    "AuthLockout",
    "BadSignature",
    "JwtVerifier",
    "KeyPairPaths",
    "LockedOut",
    "MalformedToken",
    "MissingCredentials",
    "PermissionDenied",
    "Policy",
    "Principal",
    "TokenExpired",
    "TokenNotYetValid",
    "UnknownApiKey",
    "UntrustedCertificate",
    "WrongAudience",
    "WrongIssuer",
    "api_key_from_headers",
    "bearer_token",
    "certificate_identity",
    "client_ssl_context",
    "create_token",
    "default_policy_toml",
    "generate_api_key",
    "generate_signing_keypair",
    "hash_api_key",
    "load_jwt_secret",
    "load_private_key",
    "load_verify_key",
    "public_key_b64",
    "server_ssl_context",
    "sign_bytes",
    "verify_signature",
    "write_cluster_tls",
]
