"""API and peer security pieces, free of any web framework.

The HTTP layer calls these: JWT / API key / mTLS authentication producing a
`Principal`, RBAC policies, failed-auth lockout, TLS material and contexts,
and signing key pairs. `butterfly keys generate` uses
`generate_signing_keypair`; `butterfly token create` and `dev up` use
`create_token`.
"""

from butterfly_config.node.security.errors import (
    AuthError,
    BadSignature,
    LockedOut,
    MalformedToken,
    MissingCredentials,
    PermissionDenied,
    TokenExpired,
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
from butterfly_config.node.security.principal import Principal
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

__all__ = [
    "SIGNING_ALGORITHMS",
    "AuthError",
    "BadSignature",
    "JwtVerifier",
    "KeyPairPaths",
    "LockedOut",
    "MalformedToken",
    "MissingCredentials",
    "PermissionDenied",
    "Principal",
    "TokenExpired",
    "UnknownApiKey",
    "UntrustedCertificate",
    "WrongAudience",
    "WrongIssuer",
    "bearer_token",
    "create_token",
    "generate_signing_keypair",
    "load_jwt_secret",
    "load_private_key",
    "load_verify_key",
    "public_key_b64",
    "sign_bytes",
    "verify_signature",
]
