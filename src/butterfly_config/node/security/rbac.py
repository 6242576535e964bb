"""Role-based access control from a TOML policy file (`security.access_control`).

Policy file layout:

    default_action = "deny"          # optional: overrides the configured default
    [roles.operator]
    permissions = ["config:read", "config:write", "config:rollback"]
    [subjects.alice]                 # optional: roles for mTLS identities
    roles = ["operator"]

Decision (`Policy.allows`): a caller is allowed when one of its roles lists
the permission or "*". Otherwise, a permission that some role lists by name is
denied; only a permission that no role names falls back to `default_action`.
("*" is a grant, not a mention: it does not make every permission "named".)
Roles the policy does not define grant nothing.
"""

from __future__ import annotations

import difflib
import functools
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.node.security._tomlfile import find_line, read_toml
from butterfly_config.node.security.errors import PermissionDenied
from butterfly_config.node.security.principal import Principal

DefaultAction = Literal["allow", "deny"]
CONFIG_READ = "config:read"
CONFIG_WRITE = "config:write"
CONFIG_ROLLBACK = "config:rollback"
CLUSTER_ADMIN = "cluster:admin"
KNOWN_PERMISSIONS: frozenset[str] = frozenset(
    {CONFIG_READ, CONFIG_WRITE, CONFIG_ROLLBACK, CLUSTER_ADMIN}
)
WILDCARD = "*"
_RULE = "rbac-policy"


@dataclass(frozen=True)
class Policy:
    """An immutable RBAC policy; build it with `Policy.load` or directly."""

    roles: Mapping[str, frozenset[str]] = field(default_factory=dict)
    subjects: Mapping[str, frozenset[str]] = field(default_factory=dict)
    default_action: DefaultAction = "deny"
    source: str | None = None

    @functools.cached_property
    def named_permissions(self) -> frozenset[str]:
        """Every permission some role lists by name (the ones default_action never decides)."""
        named: set[str] = set()
        for permissions in self.roles.values():
            named.update(p for p in permissions if p != WILDCARD)
        return frozenset(named)

    def allows(self, roles: Iterable[str], permission: str) -> bool:
        """Whether any of `roles` may use `permission` (see the module doc)."""
        for role in roles:
            granted = self.roles.get(role, frozenset())
            if WILDCARD in granted or permission in granted:
                return True
        if permission in self.named_permissions:
            return False
        return self.default_action == "allow"

    def roles_for_subject(self, subject: str) -> frozenset[str]:
        """Roles the `[subjects]` table gives an identity (empty when not listed)."""
        return self.subjects.get(subject, frozenset())

    def require(self, principal: Principal, permission: str) -> None:
        """Raise `PermissionDenied` (HTTP 403) unless `principal` may use `permission`."""
        if self.allows(principal.roles, permission):
            return
        held = ", ".join(sorted(principal.roles)) or "none"
        raise PermissionDenied(
            f"{principal.subject!r} (roles: {held}) lacks permission {permission!r}",
            hint="ask an administrator for a role that grants it",
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str], default_action: DefaultAction = "deny") -> Policy:
        """Parse a policy file; every problem is reported at once with file:line.

        `default_action` is `security.access_control.default_action`; a
        top-level `default_action` in the file takes precedence over it.
        """
        file = Path(path)
        data, text = read_toml(file, "access control policy file")
        return _PolicyParser(file, text).parse(data, default_action)


class _PolicyParser:
    def __init__(self, file: Path, text: str) -> None:
        self.file = file
        self.text = text
        self.issues: list[ConfigIssue] = []

    def issue(self, table: tuple[str, ...], key: str | None, message: str, hint: str) -> None:
        dotted = ".".join((*table, key) if key else table)
        self.issues.append(
            ConfigIssue(
                path=dotted,
                message=message,
                hint=hint,
                rule=_RULE,
                file=str(self.file),
                line=find_line(self.text, table, key),
            )
        )

    def parse(self, data: dict[str, Any], configured: DefaultAction) -> Policy:
        unknown = sorted(set(data) - {"default_action", "roles", "subjects"})
        for key in unknown:
            self.issue(
                (),
                key,
                f"unknown policy key {key!r}",
                "the policy file holds default_action, [roles.*] and [subjects.*]",
            )
        default_action = self._default_action(data.get("default_action", configured))
        roles = self._tables(data, "roles", "permissions", self._permission_list)
        subjects = self._tables(data, "subjects", "roles", self._string_list)
        for subject, subject_roles in subjects.items():
            for role in sorted(subject_roles - set(roles)):
                self.issue(
                    ("subjects", subject),
                    "roles",
                    f"role {role!r} is not defined",
                    _suggest(role, roles, "define it under [roles]"),
                )
        if self.issues:
            raise ConfigError(f"{self.file}: invalid access control policy", self.issues)
        return Policy(roles, subjects, default_action, str(self.file))

    def _default_action(self, value: object) -> DefaultAction:
        if value in ("allow", "deny"):
            return value
        self.issue(
            (),
            "default_action",
            f"default_action must be 'allow' or 'deny', not {value!r}",
            'use "deny" unless every unlisted permission should be open',
        )
        return "deny"

    def _tables(
        self,
        data: dict[str, Any],
        section: str,
        field_name: str,
        parse_list: Callable[[tuple[str, ...], str, object], frozenset[str]],
    ) -> dict[str, frozenset[str]]:
        raw = data.get(section, {})
        if not isinstance(raw, dict):
            self.issue((), section, f"{section} must be a table", f"write [{section}.<name>]")
            return {}
        out: dict[str, frozenset[str]] = {}
        for name, body in raw.items():
            table = (section, name)
            if not isinstance(body, dict):
                self.issue(
                    table,
                    None,
                    f"{section}.{name} must be a table",
                    f"write [{section}.{name}] with {field_name} = [...]",
                )
                continue
            for extra in sorted(set(body) - {field_name, "description"}):
                self.issue(
                    table,
                    extra,
                    f"unknown key {extra!r}",
                    _suggest(extra, [field_name, "description"], f"use {field_name}"),
                )
            if field_name not in body:
                self.issue(
                    table,
                    None,
                    f"{section}.{name} has no {field_name}",
                    f"add {field_name} = [...]",
                )
                continue
            out[name] = parse_list(table, field_name, body[field_name])
        return out

    def _string_list(self, table: tuple[str, ...], key: str, value: object) -> frozenset[str]:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.issue(table, key, f"{key} must be a list of strings", f'write {key} = ["..."]')
            return frozenset()
        return frozenset(value)

    def _permission_list(self, table: tuple[str, ...], key: str, value: object) -> frozenset[str]:
        permissions = self._string_list(table, key, value)
        for permission in sorted(permissions - KNOWN_PERMISSIONS - {WILDCARD}):
            self.issue(
                table,
                key,
                f"unknown permission {permission!r}",
                _suggest(
                    permission,
                    KNOWN_PERMISSIONS | {WILDCARD},
                    "known: " + ", ".join(sorted(KNOWN_PERMISSIONS)) + ", *",
                ),
            )
        return permissions


def _suggest(word: str, choices: Iterable[str], fallback: str) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else fallback


def default_policy_toml() -> str:
    """The policy `butterfly dev up` writes: admin (all), operator, reader."""
    return """\
# Access control policy for the butterfly-config HTTP API.
# Permissions: config:read, config:write, config:rollback, cluster:admin, "*" (all).
# A permission that no role below names is decided by default_action
# (security.access_control.default_action, or a top-level default_action here).

[roles.admin]
description = "everything, including cluster administration"
permissions = ["*"]

[roles.operator]
description = "read, change and roll back the configuration"
permissions = ["config:read", "config:write", "config:rollback"]

[roles.reader]
description = "read the configuration and its history"
permissions = ["config:read"]

# Roles for mTLS client identities (certificate CN or SAN):
# [subjects.butterfly-cli]
# roles = ["admin"]
"""
