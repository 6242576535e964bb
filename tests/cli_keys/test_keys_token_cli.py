"""`butterfly keys generate` and `butterfly token create` through the real CLI entry point."""

from __future__ import annotations

import base64
import stat
import time
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from butterfly_config.cli.main import main


def _public_key_line(out: str) -> str:
    lines = [line for line in out.splitlines() if line.startswith("public_key = ")]
    assert len(lines) == 1, out
    return lines[0].split("=", 1)[1].strip().strip('"')


def test_keys_generate_writes_pair_and_prints_member_line(tmp_path: Path, capsys) -> None:
    out_dir = tmp_path / "keys"
    assert main(["keys", "generate", "--output-dir", str(out_dir)]) == 0
    out = capsys.readouterr().out
    private_path, public_path = out_dir / "signing.key", out_dir / "signing.pub"
    assert stat.S_IMODE(private_path.stat().st_mode) == 0o600
    private = serialization.load_pem_private_key(private_path.read_bytes(), password=None)
    assert isinstance(private, ed25519.Ed25519PrivateKey)
    raw = base64.b64decode(_public_key_line(out))
    expected = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    assert raw == expected
    published = serialization.load_pem_public_key(public_path.read_bytes())
    assert published.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) == expected
    assert str(private_path) in out and str(public_path) in out


def test_keys_generate_with_name_and_algorithm(tmp_path: Path, capsys) -> None:
    code = main(["keys", "generate", "--output-dir", str(tmp_path), "--name", "node-2",
                 "--algorithm", "ecdsa_p256"])
    assert code == 0
    raw = base64.b64decode(_public_key_line(capsys.readouterr().out))
    assert len(raw) == 65 and raw[0] == 4  # uncompressed P-256 point
    assert (tmp_path / "node-2.key").exists() and (tmp_path / "node-2.pub").exists()


def test_keys_generate_refuses_to_overwrite(tmp_path: Path, capsys) -> None:
    assert main(["keys", "generate", "--output-dir", str(tmp_path)]) == 0
    before = (tmp_path / "signing.key").read_bytes()
    capsys.readouterr()
    assert main(["keys", "generate", "--output-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "already exists" in err and "Traceback" not in err
    assert (tmp_path / "signing.key").read_bytes() == before


def test_keys_generate_rejects_path_as_name(tmp_path: Path, capsys) -> None:
    assert main(["keys", "generate", "--output-dir", str(tmp_path), "--name", "../x"]) == 2
    assert "--name" in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


@pytest.fixture
def secret_file(tmp_path: Path) -> Path:
    path = tmp_path / "jwt.key"
    path.write_bytes(b"a-shared-secret-of-at-least-32-bytes!!\n")
    return path


def test_token_create_verifies_with_pyjwt(secret_file: Path, capsys) -> None:
    before = int(time.time())
    code = main(["token", "create", "--secret-file", str(secret_file), "--subject", "alice",
                 "--role", "admin", "--role", "operator", "--ttl", "600",
                 "--issuer", "iss-x", "--audience", "aud-y"])
    assert code == 0
    token = capsys.readouterr().out.strip()
    # The secret is the file's bytes without the trailing newline.
    claims = jwt.decode(token, b"a-shared-secret-of-at-least-32-bytes!!", algorithms=["HS256"],
                        audience="aud-y", issuer="iss-x")
    assert claims["sub"] == "alice"
    assert claims["roles"] == ["admin", "operator"]
    assert before + 600 <= claims["exp"] <= int(time.time()) + 600
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, secret_file.read_bytes(), algorithms=["HS256"], audience="aud-y")


def test_token_create_defaults_issuer_audience_ttl(secret_file: Path, capsys) -> None:
    assert main(["token", "create", "--secret-file", str(secret_file), "--subject", "bob",
                 "--role", "reader,operator"]) == 0
    token = capsys.readouterr().out.strip()
    claims = jwt.decode(token, b"a-shared-secret-of-at-least-32-bytes!!", algorithms=["HS256"],
                        audience="butterfly-api", issuer="butterfly-cluster")
    assert claims["roles"] == ["reader", "operator"]
    assert claims["exp"] - claims["iat"] == 3600


def test_token_create_missing_secret_file_is_exit_2(tmp_path: Path, capsys) -> None:
    missing = tmp_path / "absent.key"
    code = main(["token", "create", "--secret-file", str(missing), "--subject", "a",
                 "--role", "admin"])
    assert code == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


@pytest.mark.parametrize(
    ("extra", "needle"),
    [(["--ttl", "0"], "--ttl"), (["--ttl", "-5"], "--ttl"), (["--subject", " "], "--subject")],
)
def test_token_create_usage_errors(
    secret_file: Path, capsys, extra: list[str], needle: str
) -> None:
    argv = ["token", "create", "--secret-file", str(secret_file), "--subject", "a",
            "--role", "admin", *extra]
    assert main(argv) == 2
    assert needle in capsys.readouterr().err


def test_token_create_empty_secret_is_refused(tmp_path: Path, capsys) -> None:
    empty = tmp_path / "empty.key"
    empty.write_bytes(b"\n")
    assert main(["token", "create", "--secret-file", str(empty), "--subject", "a",
                 "--role", "admin"]) == 2
    assert "empty" in capsys.readouterr().err
