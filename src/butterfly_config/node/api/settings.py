"""What the API needs to know to protect itself (from `security.api` / `access_control`)."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.node.security.api_keys import ApiKeyStore
from butterfly_config.node.security.jwt_auth import load_jwt_secret
from butterfly_config.node.security.rbac import Policy

if TYPE_CHECKING:
    from butterfly_config.schema.root import ConfigModel

AuthMethod = Literal["jwt", "api_key", "mtls", "none"]
ONE_MIB = 1024 * 1024


@dataclass(frozen=True)
class ApiSettings:
    """Authentication, authorization and limits of one node's API.

    - `require_auth = False` or `auth_method = "none"`: every caller is an
      anonymous principal named by its address and is allowed everything.
    - `policy = None` means access control is disabled: any authenticated
      caller may do anything. With a policy, `Policy.allows` decides.
    - `api_keys` holds the configured keys (`auth_method = "api_key"`); keys
      arrive in `X-API-Key`, `Authorization: ApiKey <key>` or
      `Authorization: Bearer <key>`.
    - mTLS: the certificate (verified by the TLS layer) names the subject;
      roles come from the policy's `[subjects]` table, else the cert's OUs.
    - `clock` returns Unix seconds for token expiry and lockouts; tests
      inject one to move time.
    """

    require_auth: bool = True
    auth_method: AuthMethod = "jwt"
    jwt_secret: bytes = b""
    jwt_issuer: str = "butterfly-cluster"
    jwt_audience: str = "butterfly-api"
    jwt_leeway_secs: float = 0.0
    api_keys: ApiKeyStore | None = None
    policy: Policy | None = None
    max_failed_auth_attempts: int = 5
    lockout_duration_secs: float = 300.0
    max_body_bytes: int = ONE_MIB
    watch_default_timeout_secs: float = 30.0
    watch_max_timeout_secs: float = 300.0
    clock: Callable[[], float] = time.time

    @property
    def authenticates(self) -> bool:
        return self.require_auth and self.auth_method != "none"


def api_settings_from_config(
    model: ConfigModel,
    *,
    base_dir: str | os.PathLike[str] | None = None,
    clock: Callable[[], float] = time.time,
) -> ApiSettings:
    """`ApiSettings` from `security.api` and `security.access_control`.

    Reads the files those options name (JWT secret, API key file, RBAC policy)
    only when the chosen method needs them; relative paths are resolved
    against `base_dir` (the directory of the configuration file) when given.
    Raises the security modules' `ConfigError` / `ConfigIOError` with the
    option path when a file is missing or invalid.
    """
    api = model.security.api
    access = model.security.access_control

    def resolve(path: str) -> Path:
        candidate = Path(path)
        if base_dir is not None and not candidate.is_absolute():
            return Path(base_dir) / candidate
        return candidate

    authenticates = api.require_auth and api.auth_method != "none"
    jwt_secret = b""
    if authenticates and api.auth_method == "jwt":
        jwt_secret = load_jwt_secret(resolve(api.jwt_secret_file))
    api_keys: ApiKeyStore | None = None
    if authenticates and api.auth_method == "api_key":
        if api.api_key_file is None:
            message = "auth_method is api_key but no api_key_file is set"
            raise ConfigError(message, [ConfigIssue(
                path="security.api.api_key_file", message=message,
                hint="set security.api.api_key_file to a key file", rule="api-auth")])
        api_keys = ApiKeyStore.load(resolve(api.api_key_file))
    policy: Policy | None = None
    if access.enabled and access.policy != "none":
        if access.policy != "rbac":
            message = f"access control policy {access.policy!r} is not supported by the API"
            raise ConfigError(message, [ConfigIssue(
                path="security.access_control.policy", message=message,
                hint='use "rbac" (roles -> permissions in policy_file) or "none"',
                rule="api-auth")])
        policy = Policy.load(resolve(access.policy_file), access.default_action)
    return ApiSettings(
        require_auth=api.require_auth,
        auth_method=api.auth_method,
        jwt_secret=jwt_secret,
        jwt_issuer=api.jwt_issuer,
        jwt_audience=api.jwt_audience,
        api_keys=api_keys,
        policy=policy,
        max_failed_auth_attempts=api.max_failed_auth_attempts,
        lockout_duration_secs=float(api.lockout_duration_secs),
        clock=clock,
    )
