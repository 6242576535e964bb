"""Errors the HTTP layer turns into status codes.

Each carries `http_status` and a short `reason` that is safe to send to a
client: it never contains token bytes, key bytes or secret file contents.
"""

from __future__ import annotations

from butterfly_config.errors import ButterflyError


class AuthError(ButterflyError):
    """The caller could not be authenticated: HTTP 401."""

    http_status = 401
    reason = "unauthenticated"

    def __init__(self, message: str | None = None, *, hint: str = "") -> None:
        super().__init__(message or self.reason, hint=hint)


class MissingCredentials(AuthError):
    """No token, key or client certificate was presented."""

    reason = "missing credentials"


class MalformedToken(AuthError):
    """The credential is not in the expected shape (not a JWT, bad header, bad claim types)."""

    reason = "malformed token"


class BadSignature(AuthError):
    """The token's signature does not verify with the configured secret."""

    reason = "invalid token signature"


class TokenExpired(AuthError):
    """The token's `exp` lies in the past."""

    reason = "token expired"


class TokenNotYetValid(AuthError):
    """The token's `nbf` lies in the future."""

    reason = "token not yet valid"


class WrongAudience(AuthError):
    """The token's `aud` is not this cluster's API audience."""

    reason = "token audience not accepted"


class WrongIssuer(AuthError):
    """The token's `iss` is not this cluster's issuer."""

    reason = "token issuer not accepted"


class UnknownApiKey(AuthError):
    """The presented API key matches no configured key hash."""

    reason = "unknown api key"


class UntrustedCertificate(AuthError):
    """The client certificate is missing, unverified or names no identity."""

    reason = "client certificate not accepted"


class PermissionDenied(ButterflyError):
    """Authenticated, but no role of the caller grants the permission: HTTP 403."""

    http_status = 403


class LockedOut(ButterflyError):
    """Too many failed authentication attempts from this address: HTTP 429."""

    http_status = 429

    def __init__(self, address: str, retry_after_secs: float) -> None:
        seconds = max(1, int(retry_after_secs + 0.999))
        super().__init__(
            f"too many failed authentication attempts from {address}; retry in {seconds}s",
            hint="check the credentials the client sends",
        )
        self.address = address
        self.retry_after_secs = float(seconds)
