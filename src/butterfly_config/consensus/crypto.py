"""Signing and verification of protocol messages (ed25519 or ECDSA P-256).

Fast paths: public keys are parsed once into `cryptography` key objects, and
a bounded LRU remembers (signer, message, signature) triples already verified,
so a vote that reaches a member alone, then inside a prepare certificate,
then inside a commit certificate and a view-change report is checked once.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, Protocol, TypeVar

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from butterfly_config.consensus.messages import SignedMessage

Algorithm = Literal["ed25519", "ecdsa_p256"]
ALGORITHMS: tuple[Algorithm, ...] = ("ed25519", "ecdsa_p256")

M = TypeVar("M", bound=SignedMessage)


class KeyFormatError(ValueError):
    """A key's bytes are not a valid key for the named algorithm."""


class Signer(Protocol):
    """Something that signs on behalf of one member."""

    @property
    def node_id(self) -> str: ...

    @property
    def algorithm(self) -> Algorithm: ...

    def sign(self, data: bytes) -> bytes: ...

    def public_key_bytes(self) -> bytes: ...


class Ed25519Signer:
    """ed25519 signer (deterministic signatures)."""

    __slots__ = ("_key", "_node_id")

    def __init__(self, node_id: str, private_key: ed25519.Ed25519PrivateKey) -> None:
        self._node_id = node_id
        self._key = private_key

    @classmethod
    def generate(cls, node_id: str) -> Ed25519Signer:
        return cls(node_id, ed25519.Ed25519PrivateKey.generate())

    @classmethod
    def from_bytes(cls, node_id: str, data: bytes) -> Ed25519Signer:
        """From a raw 32-byte seed or a PEM/DER PKCS#8 private key."""
        key = _load_private(data, "ed25519")
        assert isinstance(key, ed25519.Ed25519PrivateKey)
        return cls(node_id, key)

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def algorithm(self) -> Algorithm:
        return "ed25519"

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def public_key_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )


class EcdsaP256Signer:
    """ECDSA over P-256 with SHA-256 (randomized signatures, DER encoded)."""

    __slots__ = ("_key", "_node_id")

    def __init__(self, node_id: str, private_key: ec.EllipticCurvePrivateKey) -> None:
        if not isinstance(private_key.curve, ec.SECP256R1):
            raise KeyFormatError("ecdsa_p256 needs a P-256 (secp256r1) key")
        self._node_id = node_id
        self._key = private_key

    @classmethod
    def generate(cls, node_id: str) -> EcdsaP256Signer:
        return cls(node_id, ec.generate_private_key(ec.SECP256R1()))

    @classmethod
    def from_bytes(cls, node_id: str, data: bytes) -> EcdsaP256Signer:
        """From a PEM/DER PKCS#8 (or SEC1) private key."""
        key = _load_private(data, "ecdsa_p256")
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return cls(node_id, key)

    @property
    def node_id(self) -> str:
        return self._node_id

    @property
    def algorithm(self) -> Algorithm:
        return "ecdsa_p256"

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def public_key_bytes(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
        )


def generate_signer(node_id: str, algorithm: Algorithm = "ed25519") -> Signer:
    if algorithm == "ed25519":
        return Ed25519Signer.generate(node_id)
    return EcdsaP256Signer.generate(node_id)


def private_key_pem(signer: Ed25519Signer | EcdsaP256Signer) -> bytes:
    """PKCS#8 PEM of a signer's private key (for key files)."""
    return signer._key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _load_private(data: bytes, algorithm: Algorithm) -> object:
    if algorithm == "ed25519" and len(data) == 32:
        return ed25519.Ed25519PrivateKey.from_private_bytes(data)
    try:
        if data.lstrip().startswith(b"-----"):
            key: object = serialization.load_pem_private_key(data, password=None)
        else:
            key = serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a readable {algorithm} private key: {exc}") from exc
    expected = ed25519.Ed25519PrivateKey if algorithm == "ed25519" else ec.EllipticCurvePrivateKey
    if not isinstance(key, expected):
        raise KeyFormatError(f"the private key is not an {algorithm} key")
    return key


PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


def load_public_key(data: bytes, algorithm: Algorithm) -> PublicKey:
    """Parse a member's public key: raw bytes (ed25519: 32 bytes; P-256: X9.62
    point), or PEM / DER SubjectPublicKeyInfo."""
    try:
        if data.lstrip().startswith(b"-----"):
            key: object = serialization.load_pem_public_key(data)
        elif algorithm == "ed25519" and len(data) == 32:
            key = ed25519.Ed25519PublicKey.from_public_bytes(data)
        elif algorithm == "ecdsa_p256" and len(data) in (33, 65) and data[0] in (2, 3, 4):
            key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), data)
        else:
            key = serialization.load_der_public_key(data)
    except (ValueError, TypeError) as exc:
        raise KeyFormatError(f"not a readable {algorithm} public key: {exc}") from exc
    if algorithm == "ed25519" and isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if (
        algorithm == "ecdsa_p256"
        and isinstance(key, ec.EllipticCurvePublicKey)
        and isinstance(key.curve, ec.SECP256R1)
    ):
        return key
    raise KeyFormatError(f"the public key is not an {algorithm} key")


@dataclass(frozen=True, slots=True)
class VerifyStats:
    """Counters for measuring the verification fast path."""

    verified: int
    cache_hits: int
    failures: int


VERIFIED_CACHE_SIZE = 4096
"""Signatures a key ring remembers as verified (128 B each, about 512 KiB in all).
Its hits come within a commit or two: a replica's own votes inside the next
certificate, re-sent and duplicated messages. 65,536 kept, at n = 4 after a few
thousand updates, 8 MiB of signatures that were never checked again."""


class KeyRing:
    """The members' public keys and a cache of signatures already verified.

    `verify` answers False for unknown signers and bad signatures, never raises.
    """

    def __init__(
        self,
        public_keys: Mapping[str, bytes],
        algorithm: Algorithm = "ed25519",
        cache_size: int = VERIFIED_CACHE_SIZE,
    ) -> None:
        self.algorithm: Algorithm = algorithm
        self._keys: dict[str, PublicKey] = {
            node_id: load_public_key(raw, algorithm) for node_id, raw in public_keys.items()
        }
        self._raw_keys = dict(public_keys)
        self._cache: OrderedDict[bytes, None] = OrderedDict()
        self._cache_size = cache_size
        self._verified = 0
        self._hits = 0
        self._failures = 0

    def knows(self, node_id: str) -> bool:
        return node_id in self._keys

    def verify(self, node_id: str, data: bytes, signature: bytes) -> bool:
        key = self._keys.get(node_id)
        if key is None or not signature:
            self._failures += 1
            return False
        fingerprint = _fingerprint(node_id, data, signature)
        if fingerprint in self._cache:
            self._cache.move_to_end(fingerprint)
            self._hits += 1
            return True
        try:
            if isinstance(key, ed25519.Ed25519PublicKey):
                key.verify(signature, data)
            else:
                key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        except InvalidSignature:
            self._failures += 1
            return False
        self._verified += 1
        self._remember(fingerprint)
        return True

    def holds_key_of(self, signer: Signer) -> bool:
        """True when `signer`'s public key is the one this ring holds for its node id."""
        return self._raw_keys.get(signer.node_id) == signer.public_key_bytes()

    def remember(self, node_id: str, data: bytes, signature: bytes) -> None:
        """Record a signature as verified without checking it: only for signatures this
        process just made with a key `holds_key_of` confirmed (its own votes come back
        inside certificates, and checking them again would only spend CPU)."""
        self._remember(_fingerprint(node_id, data, signature))

    def _remember(self, fingerprint: bytes) -> None:
        self._cache[fingerprint] = None
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def verify_message(self, message: SignedMessage) -> bool:
        """True when `message.signature` is its sender's signature over it."""
        return self.verify(message.sender, message.signing_bytes(), message.signature)

    def stats(self) -> VerifyStats:
        return VerifyStats(self._verified, self._hits, self._failures)


def _fingerprint(node_id: str, data: bytes, signature: bytes) -> bytes:
    digest = hashlib.blake2b(digest_size=20)
    digest.update(node_id.encode("utf-8"))
    digest.update(b"\x00")
    digest.update(len(data).to_bytes(8, "big"))
    digest.update(data)
    digest.update(signature)
    return digest.digest()


def sign_message(signer: Signer, message: M, *, remember_in: KeyRing | None = None) -> M:
    """The message with its sender's signature filled in.

    The message's `sender` must be the signer's node id. `remember_in`: a key ring
    that holds this signer's key records the signature as verified.
    """
    if message.sender != signer.node_id:
        raise ValueError(f"{signer.node_id} cannot sign a message from {message.sender}")
    data = message.signing_bytes()
    signature = signer.sign(data)
    if remember_in is not None:
        remember_in.remember(signer.node_id, data, signature)
    return message.with_signature(signature)
