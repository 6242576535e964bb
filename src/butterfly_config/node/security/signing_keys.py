"""Signing key pairs for peer messages (`security.signing`).

A member's verify key is published in `cluster.members[].public_key` as base64
of the raw public key bytes:

- ed25519: the 32 raw key bytes;
- ecdsa_p256: the 65-byte uncompressed X9.62 point (0x04 || X || Y); the
  33-byte compressed point is accepted when loading;
- rsa_2048: RSA has no raw form, so the DER SubjectPublicKeyInfo is used.

`public_key` may instead be a path to a PEM public key. Private keys are PKCS#8
PEM files written with mode 0600 and never overwritten silently.
"""

from __future__ import annotations

import base64
import binascii
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias, get_args

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa

from butterfly_config import input_files
from butterfly_config.errors import ConfigError, ConfigIOError, ConfigIssue
from butterfly_config.key_text import shaped_like_path

SigningAlgorithm = Literal["ed25519", "ecdsa_p256", "rsa_2048"]
SIGNING_ALGORITHMS: tuple[str, ...] = get_args(SigningAlgorithm)

PrivateSigningKey: TypeAlias = (
    ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
)
VerifyKey: TypeAlias = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_RULE = "signing-key"


@dataclass(frozen=True, slots=True)
class KeyPairPaths:
    """Where `generate_signing_keypair` wrote the pair, and the value for `public_key`."""

    private_path: Path
    public_path: Path
    public_key_b64: str


def _key_error(
    message: str, *, file: Path | str | None, hint: str, option: str = ""
) -> ConfigError:
    location = None if file is None else str(file)
    issue = ConfigIssue(path=option, message=message, hint=hint, rule=_RULE, file=location)
    return ConfigError(message, [issue], hint=hint)


def _check_algorithm(algorithm: str) -> None:
    if algorithm not in SIGNING_ALGORITHMS:
        raise _key_error(
            f"unknown signing algorithm {algorithm!r}",
            file=None,
            hint=f"use one of: {', '.join(SIGNING_ALGORITHMS)}",
            option="security.signing.algorithm",
        )


def new_private_key(algorithm: str = "ed25519") -> PrivateSigningKey:
    """A fresh private key of `algorithm` (in memory only)."""
    _check_algorithm(algorithm)
    if algorithm == "ed25519":
        return ed25519.Ed25519PrivateKey.generate()
    if algorithm == "ecdsa_p256":
        return ec.generate_private_key(ec.SECP256R1())
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_key_b64(public_key: VerifyKey) -> str:
    """The `cluster.members[].public_key` text for a verify key (see the module doc)."""
    if isinstance(public_key, ed25519.Ed25519PublicKey):
        raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        raw = public_key.public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
    else:
        raw = public_key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    return base64.b64encode(raw).decode("ascii")


def _write_new_file(path: Path, data: bytes, mode: int) -> None:
    """Create `path` exclusively with `mode` (never follows or replaces an existing file)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def generate_signing_keypair(
    output_dir: str | os.PathLike[str],
    algorithm: str = "ed25519",
    name: str = "signing",
    *,
    overwrite: bool = False,
) -> KeyPairPaths:
    """Write `{name}.key` (PKCS#8 PEM, 0600) and `{name}.pub` (PEM) into `output_dir`.

    The directory is created (0700) if missing. Existing files are refused
    unless `overwrite` is true, because replacing a member's key silently would
    make its peers reject every message it signs.
    """
    _check_algorithm(algorithm)
    directory = Path(output_dir)
    private_path = directory / f"{name}.key"
    public_path = directory / f"{name}.pub"
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        existing = [p for p in (private_path, public_path) if p.exists()]
        if existing and not overwrite:
            raise ConfigIOError(
                f"{existing[0]}: a key file already exists; refusing to replace it",
                hint="choose another --output-dir, or move the old key pair away first",
            )
        for path in existing:
            path.unlink()
        key = new_private_key(algorithm)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        _write_new_file(private_path, private_pem, 0o600)
        _write_new_file(public_path, public_pem, 0o644)
    except OSError as exc:
        raise ConfigIOError(
            f"{exc.filename or directory}: cannot write key pair: {exc.strerror or exc}",
            hint="check that the directory is writable",
        ) from exc
    return KeyPairPaths(private_path, public_path, public_key_b64(key.public_key()))


def _read_file(path: Path, what: str) -> bytes:
    try:
        return input_files.read_bytes(path)
    except FileNotFoundError as exc:
        raise ConfigIOError(
            f"{path}: {what} not found", hint="generate one with `butterfly keys generate`"
        ) from exc
    except OSError as exc:
        raise ConfigIOError(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc


def load_private_key(path: str | os.PathLike[str]) -> PrivateSigningKey:
    """Load an unencrypted PEM private key of a supported algorithm."""
    file = Path(path)
    data = _read_file(file, "signing private key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise _key_error(
            "not an unencrypted PEM private key",
            file=file,
            hint="the file must hold a PKCS#8 PEM key as written by `butterfly keys generate`",
            option="security.signing.private_key_file",
        ) from exc
    if isinstance(key, ed25519.Ed25519PrivateKey | rsa.RSAPrivateKey):
        return key
    if isinstance(key, ec.EllipticCurvePrivateKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise _key_error(
        f"unsupported private key type {type(key).__name__}",
        file=file,
        hint=f"use one of: {', '.join(SIGNING_ALGORITHMS)}",
        option="security.signing.private_key_file",
    )


def _verify_key_from_raw(raw: bytes) -> VerifyKey:
    if len(raw) == 32:
        return ed25519.Ed25519PublicKey.from_public_bytes(raw)
    if len(raw) in (33, 65) and raw[0] in (2, 3, 4):
        return ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), raw)
    key = serialization.load_der_public_key(raw)
    if isinstance(key, rsa.RSAPublicKey | ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise ValueError(f"unsupported key type {type(key).__name__}")


def load_verify_key(
    value: str, *, base_dir: str | os.PathLike[str] | None = None, option: str = ""
) -> VerifyKey:
    """A verify key from base64 raw bytes or from a PEM file path.

    A value starting with "/", "./", "../" or "~", or ending in
    .pem/.pub/.crt/.key, is a path (relative to `base_dir` when given); any
    other value is tried as base64 first and as a path second. `option` names
    the configuration path for error messages.
    """
    text = value.strip()
    if not shaped_like_path(text):
        try:
            return _verify_key_from_raw(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError, UnsupportedAlgorithm) as exc:
            candidate = _resolve(text, base_dir)
            if not candidate.is_file():
                raise _key_error(
                    "public key is neither base64 of a raw key nor a path to a PEM file",
                    file=None,
                    hint="paste the public_key printed by `butterfly keys generate`",
                    option=option,
                ) from exc
    file = _resolve(text, base_dir)
    data = _read_file(file, "public key")
    try:
        pem_key = serialization.load_pem_public_key(data)
        return _verify_key_from_raw(
            pem_key.public_bytes(
                serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
            )
        )
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise _key_error(
            "not a PEM public key of a supported algorithm",
            file=file,
            hint="use the .pub file written by `butterfly keys generate`",
            option=option,
        ) from exc


def _resolve(text: str, base_dir: str | os.PathLike[str] | None) -> Path:
    file = Path(text).expanduser()
    if base_dir is not None and not file.is_absolute():
        file = Path(base_dir) / file
    return file


def sign_bytes(private_key: PrivateSigningKey, data: bytes) -> bytes:
    """Sign `data` with the algorithm the key belongs to (ECDSA/RSA over SHA-256)."""
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return private_key.sign(data)
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return private_key.sign(data, ec.ECDSA(hashes.SHA256()))
    return private_key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def verify_signature(public_key: VerifyKey, signature: bytes, data: bytes) -> bool:
    """True when `signature` is a valid signature of `data` by `public_key`."""
    try:
        if isinstance(public_key, ed25519.Ed25519PublicKey):
            public_key.verify(signature, data)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            public_key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        return False
    return True
