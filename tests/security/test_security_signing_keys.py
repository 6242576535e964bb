"""Signing key pairs: files, permissions, the public_key text and round trips."""

from __future__ import annotations

import base64
import stat
from pathlib import Path

import pytest

from butterfly_config.errors import ConfigError, ConfigIOError
from butterfly_config.node.security import (
    generate_signing_keypair,
    load_private_key,
    load_verify_key,
    sign_bytes,
    verify_signature,
)


@pytest.mark.parametrize(
    ("algorithm", "raw_len"), [("ed25519", 32), ("ecdsa_p256", 65), ("rsa_2048", None)]
)
def test_generated_pair_signs_and_verifies(
    tmp_path: Path, algorithm: str, raw_len: int | None
) -> None:
    pair = generate_signing_keypair(tmp_path / "keys", algorithm=algorithm, name="node1")
    assert pair.private_path == tmp_path / "keys" / "node1.key"
    assert pair.public_path == tmp_path / "keys" / "node1.pub"
    assert stat.S_IMODE(pair.private_path.stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    if raw_len is not None:
        assert len(base64.b64decode(pair.public_key_b64)) == raw_len

    private = load_private_key(pair.private_path)
    signature = sign_bytes(private, b"revision 3")
    from_b64 = load_verify_key(pair.public_key_b64)
    from_pem = load_verify_key(str(pair.public_path))
    assert verify_signature(from_b64, signature, b"revision 3")
    assert verify_signature(from_pem, signature, b"revision 3")
    assert not verify_signature(from_b64, signature, b"revision 4")


def test_relative_pem_path_resolves_against_base_dir(tmp_path: Path) -> None:
    pair = generate_signing_keypair(tmp_path, name="peer")
    key = load_verify_key("peer.pub", base_dir=tmp_path)
    assert verify_signature(key, sign_bytes(load_private_key(pair.private_path), b"x"), b"x")


def test_existing_key_is_not_overwritten(tmp_path: Path) -> None:
    first = generate_signing_keypair(tmp_path)
    with pytest.raises(ConfigIOError, match="already exists"):
        generate_signing_keypair(tmp_path)
    assert load_verify_key(first.public_key_b64) is not None
    second = generate_signing_keypair(tmp_path, overwrite=True)
    assert second.public_key_b64 != first.public_key_b64


def test_unknown_algorithm_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown signing algorithm") as info:
        generate_signing_keypair(tmp_path, algorithm="dsa")
    assert info.value.errors[0].path == "security.signing.algorithm"


def test_garbage_public_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match="neither base64") as info:
        load_verify_key("not-a-key", option="cluster.members[0].public_key")
    assert info.value.errors[0].path == "cluster.members[0].public_key"


def test_base64_of_wrong_length_is_refused() -> None:
    with pytest.raises(ConfigError):
        load_verify_key(base64.b64encode(b"\x01" * 20).decode())


def test_missing_private_key_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigIOError, match="not found"):
        load_private_key(tmp_path / "absent.key")


def test_non_pem_private_key_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.key"
    bad.write_text("hello\n")
    with pytest.raises(ConfigError, match="not an unencrypted PEM private key") as info:
        load_private_key(bad)
    assert info.value.errors[0].file == str(bad)


def test_a_base64_key_starting_with_a_slash_is_a_key_not_a_path() -> None:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ed25519

    while True:  # one raw key in 64 encodes with a leading "/"
        raw = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        text = base64.b64encode(raw).decode()
        if text.startswith("/"):
            break
    key = load_verify_key(text, option="cluster.members[0].public_key")
    assert isinstance(key, ed25519.Ed25519PublicKey)
    assert key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw) == raw
