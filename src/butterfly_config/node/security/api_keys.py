"""API key authentication (`security.api.auth_method = "api_key"`).

The key file (`security.api.api_key_file`) stores only SHA-256 hashes:

    [keys.ci-deploy]
    key_sha256 = "<64 hex digits>"
    roles = ["operator"]

A client sends the key in `X-API-Key: <key>` or `Authorization: ApiKey <key>`.
The presented key is hashed and compared with every stored hash in constant
time, so neither the match nor its position leaks through timing.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from butterfly_config.errors import ConfigError, ConfigIssue
from butterfly_config.node.security._tomlfile import find_line, read_toml
from butterfly_config.node.security.errors import MalformedToken, MissingCredentials, UnknownApiKey
from butterfly_config.node.security.principal import Principal

KEY_PREFIX = "bfk_"
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_RULE = "api-key-file"


def generate_api_key() -> str:
    """A new random key (256 bits), shown to the operator once and stored only as a hash."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """The lowercase hex SHA-256 of the key's UTF-8 bytes: the `key_sha256` value."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def api_key_entry_toml(name: str, key_hash: str, roles: Iterable[str]) -> str:
    """A `[keys.<name>]` table to append to a key file."""
    role_list = ", ".join(f'"{r}"' for r in roles)
    return f'[keys."{name}"]\nkey_sha256 = "{key_hash}"\nroles = [{role_list}]\n'


def api_key_from_headers(x_api_key: str | None, authorization: str | None) -> str:
    """The presented key: `X-API-Key` first, else `Authorization: ApiKey <key>`."""
    if x_api_key is not None and x_api_key.strip():
        return x_api_key.strip()
    if authorization is None or not authorization.strip():
        raise MissingCredentials()
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "apikey" or not key.strip():
        raise MalformedToken("expected an 'X-API-Key' or 'Authorization: ApiKey <key>' header")
    return key.strip()


@dataclass(frozen=True, slots=True)
class ApiKeyEntry:
    name: str
    key_sha256: bytes
    roles: frozenset[str]


class ApiKeyStore:
    """The configured keys; `authenticate` maps a presented key to its `Principal`."""

    def __init__(self, entries: Iterable[ApiKeyEntry]) -> None:
        self._entries = tuple(entries)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(e.name for e in self._entries)

    @classmethod
    def from_hashes(cls, keys: Mapping[str, tuple[str, Iterable[str]]]) -> ApiKeyStore:
        """Build from {name: (key_sha256 hex, roles)} (tests and `dev up`)."""
        return cls(
            ApiKeyEntry(name, bytes.fromhex(digest), frozenset(roles))
            for name, (digest, roles) in keys.items()
        )

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> ApiKeyStore:
        """Parse the key file; every problem is reported at once with file:line."""
        file = Path(path)
        data, text = read_toml(file, "API key file")
        issues: list[ConfigIssue] = []

        def problem(table: tuple[str, ...], key: str | None, message: str, hint: str) -> None:
            issues.append(
                ConfigIssue(
                    path=".".join((*table, key) if key else table),
                    message=message,
                    hint=hint,
                    rule=_RULE,
                    file=str(file),
                    line=find_line(text, table, key),
                )
            )

        for extra in sorted(set(data) - {"keys"}):
            problem((), extra, f"unknown key {extra!r}", "the file holds only [keys.<name>] tables")
        raw_keys = data.get("keys", {})
        entries: list[ApiKeyEntry] = []
        if not isinstance(raw_keys, dict):
            problem((), "keys", "keys must be a table", "write [keys.<name>]")
            raw_keys = {}
        for name, body in raw_keys.items():
            table = ("keys", name)
            if not isinstance(body, dict):
                problem(table, None, f"keys.{name} must be a table", "write [keys.<name>]")
                continue
            for extra in sorted(set(body) - {"key_sha256", "roles", "description"}):
                problem(table, extra, f"unknown key {extra!r}", "use key_sha256 and roles")
            digest = body.get("key_sha256")
            if not isinstance(digest, str) or not _HEX64.fullmatch(digest.lower()):
                problem(
                    table,
                    "key_sha256" if "key_sha256" in body else None,
                    "key_sha256 must be 64 hex digits (the SHA-256 of the key)",
                    "store hash_api_key(key), never the key itself",
                )
                continue
            roles = body.get("roles", [])
            if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
                problem(table, "roles", "roles must be a list of strings", 'write roles = ["..."]')
                continue
            entries.append(ApiKeyEntry(name, bytes.fromhex(digest), frozenset(roles)))
        if issues:
            raise ConfigError(f"{file}: invalid API key file", issues)
        return cls(entries)

    def authenticate(self, presented: str | None) -> Principal:
        """The principal of the matching key, or `UnknownApiKey` / `MissingCredentials`."""
        if presented is None or not presented:
            raise MissingCredentials()
        digest = hashlib.sha256(presented.encode("utf-8")).digest()
        found: ApiKeyEntry | None = None
        for entry in self._entries:
            if hmac.compare_digest(digest, entry.key_sha256) and found is None:
                found = entry
        if found is None:
            raise UnknownApiKey()
        return Principal(subject=found.name, roles=found.roles, method="api_key")
