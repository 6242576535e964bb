"""HS256 bearer tokens for the HTTP API (`security.api.auth_method = "jwt"`).

The shared secret is the bytes of `jwt_secret_file` with one trailing newline
("\\n" or "\\r\\n") removed, so `echo secret > file` and `printf secret > file`
give the same key. A token must carry `sub`, `iss`, `aud` and `exp`; `iss` and
`aud` must equal `security.api.jwt_issuer` / `jwt_audience`; roles come from
the optional `roles` claim (a list of strings; absent means no roles, which
RBAC then refuses with 403). Every failure maps to HTTP 401 with a short
reason that names no secret or token material.

A client sends the same token with every request, so a verifier remembers the
claims of the last `VERIFIED_TOKENS_KEPT` tokens whose signature, issuer,
audience and claims it has checked: a repeat costs a dictionary look-up and
the time checks (`exp`, `nbf`), which are made again on every use. Only tokens
that passed are remembered, and a verifier built for other settings (a new
secret, issuer or audience) starts with none.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import jwt

from butterfly_config import input_files
from butterfly_config.errors import ConfigError, ConfigIOError, ConfigIssue
from butterfly_config.node.security.errors import (
    AuthError,
    BadSignature,
    MalformedToken,
    MissingCredentials,
    TokenExpired,
    TokenNotYetValid,
    WrongAudience,
    WrongIssuer,
)
from butterfly_config.node.security.principal import Principal

ALGORITHM = "HS256"
_REQUIRED_CLAIMS = ("exp", "iss", "aud", "sub")
VERIFIED_TOKENS_KEPT = 256


def load_jwt_secret(path: str | os.PathLike[str]) -> bytes:
    """Read the shared secret: the file's bytes without one trailing newline."""
    file = Path(path)
    try:
        data = input_files.read_bytes(file)
    except FileNotFoundError as exc:
        raise ConfigIOError(
            f"{file}: JWT secret file not found",
            hint="set security.api.jwt_secret_file to an existing file "
            "(for example: head -c 32 /dev/urandom | base64 > jwt.key)",
        ) from exc
    except OSError as exc:
        raise ConfigIOError(f"{file}: cannot read JWT secret file: {exc.strerror or exc}") from exc
    if data.endswith(b"\r\n"):
        data = data[:-2]
    elif data.endswith(b"\n"):
        data = data[:-1]
    if not data:
        message = "JWT secret file is empty"
        raise ConfigError(
            message,
            [
                ConfigIssue(
                    path="security.api.jwt_secret_file",
                    message=message,
                    hint="write at least 32 random bytes into it",
                    rule="jwt-secret",
                    file=str(file),
                )
            ],
        )
    return data


def _as_key(secret: bytes | str) -> bytes:
    return secret.encode("utf-8") if isinstance(secret, str) else secret


def create_token(
    secret: bytes | str,
    subject: str,
    roles: Iterable[str],
    ttl: int,
    issuer: str,
    audience: str,
    *,
    now: float | None = None,
) -> str:
    """A signed HS256 token for `subject` with `roles`, valid for `ttl` seconds."""
    if ttl <= 0:
        raise ValueError("ttl must be a positive number of seconds")
    issued = int(time.time() if now is None else now)
    claims: dict[str, Any] = {
        "sub": subject,
        "roles": list(roles),
        "iss": issuer,
        "aud": audience,
        "iat": issued,
        "exp": issued + int(ttl),
    }
    with warnings.catch_warnings():
        # Short secrets are the operator's choice; refusing them is the validator's job.
        warnings.simplefilter("ignore")
        return jwt.encode(claims, _as_key(secret), algorithm=ALGORITHM)


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header value."""
    if authorization is None or not authorization.strip():
        raise MissingCredentials()
    scheme, _, token = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise MalformedToken("expected an 'Authorization: Bearer <token>' header")
    return token.strip()


def _roles_claim(claims: Mapping[str, Any]) -> frozenset[str]:
    roles = claims.get("roles", [])
    if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
        raise MalformedToken("the roles claim must be a list of strings")
    return frozenset(roles)


class JwtVerifier:
    """Checks tokens against one secret, issuer and audience.

    `clock` returns the current Unix time; tests inject a fixed one.
    `leeway_secs` tolerates small clock differences between the token issuer
    and this node when checking `exp`.
    """

    def __init__(
        self,
        secret: bytes | str,
        issuer: str,
        audience: str,
        *,
        leeway_secs: float = 0.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not secret:
            raise ValueError("the JWT secret must not be empty")
        self._key = _as_key(secret)
        self._issuer = issuer
        self._audience = audience
        self._leeway = leeway_secs
        self._clock = clock
        # token -> (its claims, the principal they name), oldest first
        self._verified: dict[str, tuple[Mapping[str, Any], Principal]] = {}

    @classmethod
    def from_file(
        cls, secret_file: str | os.PathLike[str], issuer: str, audience: str, **kwargs: Any
    ) -> JwtVerifier:
        """A verifier whose secret is read from `jwt_secret_file`."""
        return cls(load_jwt_secret(secret_file), issuer, audience, **kwargs)

    def verify(self, token: str | None) -> Principal:
        """The principal a token proves, or an `AuthError` subclass saying why not."""
        if token is None or not token.strip():
            raise MissingCredentials()
        token = token.strip()
        known = self._verified.get(token)
        if known is not None:
            claims, principal = known
            try:
                self._check_expiry(claims)
            except AuthError:
                del self._verified[token]
                raise
            return principal
        claims = self._decode(token)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise MalformedToken("the sub claim must be a non-empty string")
        principal = Principal(subject=subject, roles=_roles_claim(claims), method="jwt")
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            del self._verified[next(iter(self._verified))]
        self._verified[token] = (claims, principal)
        return principal

    def verify_header(self, authorization: str | None) -> Principal:
        """`verify` applied to an `Authorization` header value."""
        return self.verify(bearer_token(authorization))

    def _decode(self, token: str) -> dict[str, Any]:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                claims = jwt.decode(
                    token,
                    self._key,
                    algorithms=[ALGORITHM],
                    audience=self._audience,
                    issuer=self._issuer,
                    leeway=self._leeway,
                    options={
                        "require": list(_REQUIRED_CLAIMS),
                        "verify_exp": False,
                        "verify_iat": False,
                        "verify_nbf": False,
                    },
                )
        except jwt.InvalidSignatureError as exc:
            raise BadSignature() from exc
        except jwt.InvalidAudienceError as exc:
            raise WrongAudience() from exc
        except jwt.InvalidIssuerError as exc:
            raise WrongIssuer() from exc
        except jwt.MissingRequiredClaimError as exc:
            raise MalformedToken(f"the token has no {exc.claim} claim") from exc
        except jwt.InvalidAlgorithmError as exc:
            raise MalformedToken(f"only {ALGORITHM} tokens are accepted") from exc
        except jwt.InvalidTokenError as exc:
            raise MalformedToken() from exc
        self._check_expiry(claims)
        return claims

    def _check_expiry(self, claims: Mapping[str, Any]) -> None:
        """`exp` (and `nbf` when present) against the injected clock, not the wall clock."""
        now = self._clock()
        exp = _numeric_claim(claims, "exp")
        if exp is not None and exp <= now - self._leeway:
            raise TokenExpired()
        nbf = _numeric_claim(claims, "nbf")
        if nbf is not None and nbf > now + self._leeway:
            raise TokenNotYetValid()


def _numeric_claim(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise MalformedToken(f"the {name} claim must be a number")
    return float(value)


__all__ = [
    "ALGORITHM",
    "AuthError",
    "JwtVerifier",
    "bearer_token",
    "create_token",
    "load_jwt_secret",
]
