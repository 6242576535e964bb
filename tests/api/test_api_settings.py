"""ApiSettings built from the configuration, and auth changes applied at runtime."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from api_fakes import FakeConfigService
from api_helpers import AUDIENCE, SECRET, Clock, bearer, jwt_settings
from fastapi.testclient import TestClient

from butterfly_config.errors import ConfigError, ConfigIOError
from butterfly_config.node.api import create_app
from butterfly_config.node.api.settings import api_settings_from_config
from butterfly_config.node.security.api_keys import api_key_entry_toml, hash_api_key
from butterfly_config.node.security.rbac import default_policy_toml
from butterfly_config.schema.root import ConfigModel


def model(api: dict[str, Any], access: dict[str, Any] | None = None) -> ConfigModel:
    return ConfigModel.model_validate({"security": {"api": api,
                                                    "access_control": access or {}}})


def test_jwt_and_rbac_from_files(tmp_path: Path) -> None:
    (tmp_path / "jwt.key").write_bytes(SECRET + b"\n")
    (tmp_path / "rbac.toml").write_text(default_policy_toml())
    settings = api_settings_from_config(
        model({"jwt_secret_file": "jwt.key", "max_failed_auth_attempts": 2,
               "lockout_duration_secs": 30},
              {"policy_file": "rbac.toml"}), base_dir=tmp_path)
    assert settings.auth_method == "jwt"
    assert settings.jwt_secret == SECRET
    assert settings.policy is not None
    assert settings.policy.allows(["operator"], "config:write")
    assert (settings.max_failed_auth_attempts, settings.lockout_duration_secs) == (2, 30.0)
    client = TestClient(create_app(FakeConfigService(), settings))
    assert client.get("/api/v1/config", headers=bearer("reader", now=settings.clock())
                      ).status_code == 200


def test_api_keys_and_disabled_access_control(tmp_path: Path) -> None:
    keys = tmp_path / "keys.toml"
    keys.write_text(api_key_entry_toml("ci", hash_api_key("bfk_abc"), ["reader"]))
    settings = api_settings_from_config(
        model({"auth_method": "api_key", "api_key_file": str(keys)}, {"enabled": False}))
    assert settings.policy is None
    client = TestClient(create_app(FakeConfigService(), settings))
    assert client.post("/api/v1/config/sync", headers={"X-API-Key": "bfk_abc"}).status_code == 200


def test_missing_files_are_reported_with_the_option(tmp_path: Path) -> None:
    with pytest.raises(ConfigIOError):
        api_settings_from_config(model({"jwt_secret_file": str(tmp_path / "none")}))
    with pytest.raises(ConfigError) as no_keys:
        api_settings_from_config(model({"auth_method": "api_key"}))
    assert no_keys.value.errors[0].path == "security.api.api_key_file"
    with pytest.raises(ConfigError) as acl:
        api_settings_from_config(model({"auth_method": "none"}, {"policy": "acl"}))
    assert acl.value.errors[0].path == "security.access_control.policy"
    # Nothing is read when auth is off and access control disabled.
    open_settings = api_settings_from_config(model({"require_auth": False},
                                                   {"enabled": False}))
    assert not open_settings.authenticates


def test_reconfigure_applies_new_audience_and_limits() -> None:
    clock = Clock()
    settings = jwt_settings(clock)
    app = create_app(FakeConfigService(), settings)
    client = TestClient(app)
    assert client.get("/api/v1/config", headers=bearer("reader")).status_code == 200
    app.state.gate.reconfigure(replace(settings, jwt_audience="new-audience",
                                       max_failed_auth_attempts=1))
    assert client.get("/api/v1/config", headers=bearer("reader")).status_code == 401
    assert client.get("/api/v1/config", headers=bearer("reader", audience="new-audience")
                      ).status_code == 429  # one failure now locks
    with pytest.raises(ConfigError):
        app.state.gate.reconfigure(replace(settings, jwt_secret=b""))
    assert app.state.gate.settings.jwt_audience == "new-audience"
    assert AUDIENCE != "new-audience"
