"""Access settings follow committed changes; a node that cannot enforce them vetoes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from butterfly_config.config import ButterflyConfig
from butterfly_config.node.api.live_settings import ApiSettingsFollower
from butterfly_config.node.security import default_policy_toml


class Gate:
    def __init__(self) -> None:
        self.applied: list[Any] = []

    def reconfigure(self, settings: Any) -> None:
        self.applied.append(settings)


def node_config(tmp_path: Path) -> ButterflyConfig:
    (tmp_path / "jwt.key").write_text("s" * 40, encoding="utf-8")
    (tmp_path / "rbac.toml").write_text(default_policy_toml(), encoding="utf-8")
    return ButterflyConfig.defaults().with_values({
        "security.api.jwt_secret_file": str(tmp_path / "jwt.key"),
        "security.access_control.policy_file": str(tmp_path / "rbac.toml"),
    })


def test_unchanged_access_settings_cost_nothing_and_change_nothing(tmp_path: Path) -> None:
    current = node_config(tmp_path)
    gate = Gate()
    follower = ApiSettingsFollower(gate, tmp_path, current)  # type: ignore[arg-type]
    (tmp_path / "rbac.toml").unlink()  # would fail if it were read again
    other = current.with_values({"network.compression.level": 7})
    assert follower.before_config_change(other) is None
    follower.on_config_changed(current, other)
    assert gate.applied == []


def test_new_audience_is_applied_and_a_missing_policy_file_is_vetoed(tmp_path: Path) -> None:
    current = node_config(tmp_path)
    gate = Gate()
    follower = ApiSettingsFollower(gate, tmp_path, current)  # type: ignore[arg-type]
    audience = current.with_values({"security.api.jwt_audience": "v2"})
    assert follower.before_config_change(audience) is None
    follower.on_config_changed(current, audience)
    assert [s.jwt_audience for s in gate.applied] == ["v2"]
    missing = audience.with_values(
        {"security.access_control.policy_file": str(tmp_path / "absent.toml")})
    reason = follower.before_config_change(missing)
    assert reason is not None and "cannot enforce" in reason and "absent.toml" in reason
