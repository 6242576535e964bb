"""Committed and local changes to `security.api` / `security.access_control` take effect live.

Issuer, audience, RBAC policy and lockout limits are dynamic options: the
node's access gate must follow them without a restart. A proposal whose
settings this node cannot load (say, a policy file missing here) is vetoed,
so the cluster never commits an access policy a member cannot enforce.
"""

from __future__ import annotations

import logging
import os

from butterfly_config.config import ButterflyConfig
from butterfly_config.errors import ButterflyError
from butterfly_config.node.api.auth import AccessGate
from butterfly_config.node.api.settings import ApiSettings, api_settings_from_config
from butterfly_config.node.subscribers import ConfigSubscriber

log = logging.getLogger("butterfly.api")


def _security_of(config: ButterflyConfig) -> tuple[object, object]:
    security = config.model.security
    return security.api, security.access_control


class ApiSettingsFollower(ConfigSubscriber):
    """Rebuilds the gate's settings when the options behind them change."""

    name = "api-access"

    def __init__(self, gate: AccessGate, base_dir: str | os.PathLike[str] | None,
                 current: ButterflyConfig) -> None:
        self._gate = gate
        self._base_dir = base_dir
        self._in_force = _security_of(current)

    def _settings(self, config: ButterflyConfig) -> ApiSettings:
        return api_settings_from_config(config.model, base_dir=self._base_dir)

    def before_config_change(self, proposed: ButterflyConfig) -> str | None:
        if _security_of(proposed) == self._in_force:
            return None  # most changes leave access alone: no files to read again
        try:
            self._settings(proposed)
        except (ButterflyError, OSError, ValueError) as exc:
            message = exc.render() if isinstance(exc, ButterflyError) else str(exc)
            return f"this node cannot enforce the new API access settings: {message}"
        return None

    def on_config_changed(self, old: ButterflyConfig, new: ButterflyConfig) -> None:
        if _security_of(new) == self._in_force:
            return
        self._in_force = _security_of(new)
        try:
            self._gate.reconfigure(self._settings(new))
        except (ButterflyError, OSError, ValueError) as exc:
            log.error("API access settings not updated, the previous ones stay in force: %s", exc)
            return
        log.info("API access settings updated (issuer, audience, policy, lockout limits)")
