"""API key files store hashes only; the comparison finds the right key."""

from __future__ import annotations

from pathlib import Path

import pytest

from butterfly_config.errors import ConfigError
from butterfly_config.node.security import (
    ApiKeyStore,
    MalformedToken,
    MissingCredentials,
    UnknownApiKey,
    api_key_from_headers,
    generate_api_key,
    hash_api_key,
)
from butterfly_config.node.security.api_keys import api_key_entry_toml


def test_generated_keys_are_unique_and_hash_is_sha256_hex() -> None:
    keys = {generate_api_key() for _ in range(50)}
    assert len(keys) == 50
    assert hash_api_key("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"


def test_key_file_round_trip(tmp_path: Path) -> None:
    ci, ops = generate_api_key(), generate_api_key()
    path = tmp_path / "keys.toml"
    path.write_text(
        api_key_entry_toml("ci", hash_api_key(ci), ["operator"])
        + api_key_entry_toml("ops team", hash_api_key(ops), ["admin", "reader"])
    )
    assert ci not in path.read_text()
    store = ApiKeyStore.load(path)
    assert store.names == ("ci", "ops team")
    principal = store.authenticate(ops)
    assert (principal.subject, principal.roles, principal.method) == (
        "ops team",
        frozenset({"admin", "reader"}),
        "api_key",
    )
    assert store.authenticate(ci).roles == frozenset({"operator"})
    with pytest.raises(UnknownApiKey):
        store.authenticate(ci + "x")
    with pytest.raises(MissingCredentials):
        store.authenticate("")


def test_uppercase_hash_in_file_is_accepted(tmp_path: Path) -> None:
    key = generate_api_key()
    path = tmp_path / "keys.toml"
    path.write_text(f'[keys.a]\nkey_sha256 = "{hash_api_key(key).upper()}"\nroles = []\n')
    assert ApiKeyStore.load(path).authenticate(key).subject == "a"


def test_bad_key_file_lists_every_problem_with_lines(tmp_path: Path) -> None:
    path = tmp_path / "keys.toml"
    path.write_text(
        "[keys.a]\n"  # 1
        'key_sha256 = "secret"\n'  # 2
        "[keys.b]\n"  # 3
        f'key_sha256 = "{"0" * 64}"\n'  # 4
        'roles = "admin"\n'  # 5
        "[keys.c]\n"  # 6
        'key = "plaintext"\n'  # 7
    )
    with pytest.raises(ConfigError) as info:
        ApiKeyStore.load(path)
    found = {(i.path, i.line) for i in info.value.errors}
    assert ("keys.a.key_sha256", 2) in found
    assert ("keys.b.roles", 5) in found
    assert ("keys.c.key", 7) in found
    assert ("keys.c", 6) in found  # no key_sha256 at all


def test_headers() -> None:
    assert api_key_from_headers("k1", "ApiKey k2") == "k1"
    assert api_key_from_headers(None, "ApiKey k2") == "k2"
    with pytest.raises(MissingCredentials):
        api_key_from_headers(None, None)
    with pytest.raises(MalformedToken):
        api_key_from_headers("", "Bearer abc")
