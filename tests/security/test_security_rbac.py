"""RBAC policy files: decisions, default_action, and errors with file:line."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterfly_config.errors import ConfigError
from butterfly_config.node.security import PermissionDenied, Policy, Principal, default_policy_toml


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rbac.toml"
    path.write_text(text)
    return path


@pytest.fixture
def default_policy(tmp_path: Path) -> Policy:
    return Policy.load(write(tmp_path, default_policy_toml()))


@pytest.mark.parametrize(
    ("roles", "permission", "allowed"),
    [
        (["admin"], "cluster:admin", True),
        (["admin"], "config:write", True),
        (["operator"], "config:rollback", True),
        (["operator"], "cluster:admin", False),
        (["reader"], "config:read", True),
        (["reader"], "config:write", False),
        (["reader", "operator"], "config:write", True),
        ([], "config:read", False),
        (["ghost"], "config:read", False),
    ],
)
def test_default_policy_decisions(
    default_policy: Policy, roles: list[str], permission: str, allowed: bool
) -> None:
    assert default_policy.allows(roles, permission) is allowed


def test_default_action_decides_only_unnamed_permissions(tmp_path: Path) -> None:
    text = '[roles.reader]\npermissions = ["config:read"]\n[roles.root]\npermissions = ["*"]\n'
    open_policy = Policy.load(write(tmp_path, text), default_action="allow")
    # named by some role: never decided by default_action
    assert not open_policy.allows([], "config:read")
    # named by no role ("*" is not a mention): default_action decides
    assert open_policy.allows([], "config:write")
    assert open_policy.allows(["reader"], "cluster:admin")
    closed = Policy.load(write(tmp_path, text), default_action="deny")
    assert not closed.allows([], "config:write")
    assert closed.allows(["root"], "config:write")


def test_file_default_action_wins_over_configured(tmp_path: Path) -> None:
    text = 'default_action = "allow"\n[roles.reader]\npermissions = ["config:read"]\n'
    policy = Policy.load(write(tmp_path, text), default_action="deny")
    assert policy.default_action == "allow"
    assert policy.allows([], "config:write")


def test_subjects_map_identities_to_roles(tmp_path: Path) -> None:
    text = default_policy_toml() + '\n[subjects.alice]\nroles = ["operator"]\n'
    policy = Policy.load(write(tmp_path, text))
    assert policy.roles_for_subject("alice") == frozenset({"operator"})
    assert policy.roles_for_subject("bob") == frozenset()


def test_require_raises_403_naming_subject_and_permission(default_policy: Policy) -> None:
    default_policy.require(Principal("ops", frozenset({"operator"}), "jwt"), "config:write")
    with pytest.raises(PermissionDenied) as info:
        default_policy.require(Principal("eve", frozenset({"reader"}), "jwt"), "config:write")
    assert info.value.http_status == 403
    assert "'eve'" in info.value.message and "config:write" in info.value.message


def test_bad_policy_reports_every_problem_with_lines(tmp_path: Path) -> None:
    text = (
        'default_action = "maybe"\n'  # line 1
        "[roles.operator]\n"  # line 2
        'permissions = ["config:wirte"]\n'  # line 3
        "[roles.reader]\n"  # line 4
        'permisions = ["config:read"]\n'  # line 5
        "[subjects.alice]\n"  # line 6
        'roles = ["opertor"]\n'  # line 7
    )
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        Policy.load(path)
    found = {(i.path, i.line) for i in info.value.errors}
    assert ("default_action", 1) in found
    assert ("roles.operator.permissions", 3) in found
    assert ("roles.reader.permisions", 5) in found
    assert ("subjects.alice.roles", 7) in found
    by_path = {i.path: i for i in info.value.errors}
    assert "config:write" in by_path["roles.operator.permissions"].hint
    assert "operator" in by_path["subjects.alice.roles"].hint
    assert all(i.file == str(path) for i in info.value.errors)


def test_toml_syntax_error_has_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[roles.admin]\npermissions = ["*"\n')
    with pytest.raises(ConfigError, match="not valid TOML") as info:
        Policy.load(path)
    assert info.value.errors[0].line is not None
    assert info.value.errors[0].file == str(path)


def test_wrong_value_types(tmp_path: Path) -> None:
    path = write(tmp_path, 'roles = "admin"\n[subjects.x]\nroles = "admin"\n')
    with pytest.raises(ConfigError) as info:
        Policy.load(path)
    messages = " | ".join(i.message for i in info.value.errors)
    assert "roles must be a table" in messages
    assert "must be a list of strings" in messages
