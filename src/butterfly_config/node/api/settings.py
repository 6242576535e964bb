"""What the API needs to know to protect itself (from `security.api` / `access_control`)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from butterfly_config.node.security.api_keys import ApiKeyStore
from butterfly_config.node.security.rbac import Policy

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
