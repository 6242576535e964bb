"""Who may call the API: lockout, authentication, authorization, audit.

`AccessGate.admit` runs for every request under /api/ before its body is
used. Order: a locked-out address gets 429 without its credentials being
looked at; then the credentials of `security.api.auth_method` are checked
(401 with `WWW-Authenticate` when missing or invalid, counted towards the
lockout); then the RBAC policy decides (403). Every refusal increments
`butterfly_config_auth_failures_total{reason}`; 401s, 403s and the moment an
address gets locked are written to the audit log (who = client address,
what = method and path, why = the reason). Requests refused while an address
stays locked are counted but not audited one by one, so a client hammering
the API cannot flood the audit log.

The verification itself lives in node/security (framework-free); this module
only reads the request and maps outcomes to HTTP.
"""

from __future__ import annotations

import logging
from typing import Any, Literal, NoReturn

from cryptography import x509
from starlette.requests import Request

from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.node.api.settings import ApiSettings
from butterfly_config.node.metrics import NodeMetrics
from butterfly_config.node.security.api_keys import ApiKeyStore, api_key_from_headers
from butterfly_config.node.security.errors import AuthError, LockedOut, UntrustedCertificate
from butterfly_config.node.security.jwt_auth import JwtVerifier
from butterfly_config.node.security.lockout import AuthLockout
from butterfly_config.node.security.mtls import certificate_identity
from butterfly_config.node.security.principal import Principal
from butterfly_config.node.service import ConfigService, Identity

Permission = Literal["config:read", "config:write", "config:rollback", "cluster:admin"]
REALM = "butterfly-api"
log = logging.getLogger("butterfly_config.api")


class AccessRefused(Exception):
    """A request refused before its handler ran: 401, 403 or 429."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def client_address(request: Request) -> str:
    """The peer's IP address (the port changes per connection and is left out)."""
    return request.client.host if request.client is not None else "unknown"


class AccessGate:
    """Authenticates and authorizes API requests per `ApiSettings`."""

    def __init__(self, settings: ApiSettings, service: ConfigService, metrics: NodeMetrics) -> None:
        self.settings = settings
        self.service = service
        self.metrics = metrics
        self.lockout = AuthLockout(
            settings.max_failed_auth_attempts,
            settings.lockout_duration_secs,
            clock=settings.clock,
        )
        self._jwt = self._jwt_verifier(settings)
        self._api_keys = self._key_store(settings)

    def reconfigure(self, settings: ApiSettings) -> None:
        """Apply changed auth options (issuer, audience, policy, lockout limits) at runtime.

        Everything is built before anything is swapped, so an invalid change
        raises and leaves the gate as it was. Lockout state is kept.
        """
        jwt = self._jwt_verifier(settings)
        api_keys = self._key_store(settings)
        self.settings = settings
        self._jwt = jwt
        self._api_keys = api_keys
        self.lockout.max_failures = settings.max_failed_auth_attempts
        self.lockout.lockout_duration = float(settings.lockout_duration_secs)
        self.lockout.window = float(settings.lockout_duration_secs)

    @staticmethod
    def _jwt_verifier(settings: ApiSettings) -> JwtVerifier | None:
        if not settings.authenticates or settings.auth_method != "jwt":
            return None
        if not settings.jwt_secret:
            raise _setup_error("security.api.jwt_secret_file",
                               "JWT authentication is enabled but the secret is empty",
                               "point security.api.jwt_secret_file at a file with a random secret")
        return JwtVerifier(settings.jwt_secret, settings.jwt_issuer, settings.jwt_audience,
                           leeway_secs=settings.jwt_leeway_secs, clock=settings.clock)

    @staticmethod
    def _key_store(settings: ApiSettings) -> ApiKeyStore | None:
        if not settings.authenticates or settings.auth_method != "api_key":
            return None
        if settings.api_keys is None:
            raise _setup_error("security.api.api_key_file",
                               "API key authentication is enabled but no key file is loaded",
                               "set security.api.api_key_file to a key file")
        return settings.api_keys

    async def admit(self, request: Request, permission: Permission) -> Identity:
        """The caller's identity if it may use `permission`, else `AccessRefused`."""
        address = client_address(request)
        if not self.settings.authenticates:
            return Identity(subject=f"anonymous@{address}", roles=(), method="none")
        try:
            self.lockout.check(address)
        except LockedOut as exc:
            self.metrics.inc_auth_failure("locked_out")
            retry = str(max(1, int(exc.retry_after_secs)))
            raise AccessRefused(429, exc.message, {"Retry-After": retry}) from None
        try:
            principal = self._authenticate(request)
        except AuthError as exc:
            self._refuse_unauthenticated(request, address, permission, exc)
        self.lockout.record_success(address)
        policy = self.settings.policy
        if policy is not None and not policy.allows(principal.roles, permission):
            self.metrics.inc_auth_failure("forbidden")
            held = ", ".join(sorted(principal.roles)) or "none"
            self._audit(address, request, "forbidden", {
                "subject": principal.subject, "roles": sorted(principal.roles),
                "permission": permission,
            })
            raise AccessRefused(
                403, f"{principal.subject!r} (roles: {held}) lacks permission {permission!r}"
            )
        return Identity(subject=principal.subject, roles=tuple(sorted(principal.roles)),
                        method=principal.method)

    def _refuse_unauthenticated(
        self, request: Request, address: str, permission: Permission, exc: AuthError
    ) -> NoReturn:
        locked = self.lockout.record_failure(address)
        self.metrics.inc_auth_failure("unauthenticated")
        detail: dict[str, Any] = {"reason": exc.reason, "auth_method": self.settings.auth_method,
                                  "permission": permission}
        if locked:
            detail["locked_out_secs"] = self.settings.lockout_duration_secs
        self._audit(address, request, "unauthenticated", detail)
        raise AccessRefused(401, f"authentication failed: {exc.message}",
                            {"WWW-Authenticate": self._challenge(exc)}) from None

    def _authenticate(self, request: Request) -> Principal:
        headers = request.headers
        if self._jwt is not None:
            return self._jwt.verify_header(headers.get("authorization"))
        if self._api_keys is not None:
            return self._api_keys.authenticate(_presented_api_key(
                headers.get("x-api-key"), headers.get("authorization")))
        return self._certificate_principal(request)

    def _certificate_principal(self, request: Request) -> Principal:
        extensions = request.scope.get("extensions") or {}
        tls = extensions.get("tls") if isinstance(extensions, dict) else None
        chain = tls.get("client_cert_chain") if isinstance(tls, dict) else None
        if not chain:
            raise UntrustedCertificate(
                "mTLS authentication needs an HTTPS connection with a verified client certificate"
            )
        cert = x509.load_pem_x509_certificate(str(chain[0]).encode("ascii"))
        policy = self.settings.policy
        return certificate_identity(cert, policy.subjects if policy is not None else None)

    def _challenge(self, exc: AuthError) -> str:
        method = self.settings.auth_method
        if method == "jwt":
            if exc.reason == "missing credentials":
                return f'Bearer realm="{REALM}"'
            return f'Bearer realm="{REALM}", error="invalid_token"'
        if method == "api_key":
            return f'ApiKey realm="{REALM}"'
        return f'Mutual realm="{REALM}"'

    def _audit(self, address: str, request: Request, outcome: str, detail: dict[str, Any]) -> None:
        what = f"api {request.method} {request.url.path}"
        try:
            self.service.audit(address, what, outcome, detail)
        except Exception as exc:  # an audit failure must not turn a 401 into a 500
            log.error("could not write audit record for %s (%s): %s", what, outcome,
                      type(exc).__name__)


def _presented_api_key(x_api_key: str | None, authorization: str | None) -> str:
    """`X-API-Key`, `Authorization: ApiKey <key>` or `Authorization: Bearer <key>`."""
    if not (x_api_key and x_api_key.strip()) and authorization:
        scheme, _, rest = authorization.strip().partition(" ")
        if scheme.lower() == "bearer" and rest.strip():
            return rest.strip()
    return api_key_from_headers(x_api_key, authorization)


def _setup_error(path: str, message: str, hint: str) -> ConfigError:
    return ConfigError(message, [ConfigIssue(path=path, message=message, hint=hint,
                                             rule="api-auth")])
