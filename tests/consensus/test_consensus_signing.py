"""Signatures, canonical encoding and replay protection of protocol messages."""

from __future__ import annotations

import dataclasses
import tracemalloc

import pytest
from consensus_harness import CLUSTER, hash_fn

from butterfly_config.consensus.crypto import (
    VERIFIED_CACHE_SIZE,
    EcdsaP256Signer,
    Ed25519Signer,
    KeyFormatError,
    KeyRing,
    generate_signer,
    load_public_key,
    private_key_pem,
    sign_message,
)
from butterfly_config.consensus.encoding import DecodeError
from butterfly_config.consensus.messages import (
    SIGNING_DOMAIN,
    CommitVote,
    PrepareOk,
    Propose,
    decode_message,
    encode_message,
    entry_is_consistent,
    make_entry,
)


@pytest.fixture(params=["ed25519", "ecdsa_p256"])
def pair(request: pytest.FixtureRequest) -> tuple[Ed25519Signer | EcdsaP256Signer, KeyRing]:
    signer = generate_signer("a", request.param)
    ring = KeyRing({"a": signer.public_key_bytes()}, request.param)
    return signer, ring  # type: ignore[return-value]


def vote(**changes: object) -> PrepareOk:
    base = PrepareOk(CLUSTER, "a", 3, 1, 7, "digest", True)
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def test_signed_vote_verifies(pair: tuple[Ed25519Signer, KeyRing]) -> None:
    signer, ring = pair
    assert ring.verify_message(sign_message(signer, vote()))


def test_unsigned_and_tampered_votes_fail(pair: tuple[Ed25519Signer, KeyRing]) -> None:
    signer, ring = pair
    signed = sign_message(signer, vote())
    assert not ring.verify_message(vote())
    assert not ring.verify_message(dataclasses.replace(signed, digest="other"))
    flipped = bytes([signed.signature[0] ^ 1]) + signed.signature[1:]
    assert not ring.verify_message(signed.with_signature(flipped))


@pytest.mark.parametrize(
    "field, value",
    [("cluster", "other-cluster"), ("view", 4), ("attempt", 2), ("revision", 8), ("fast", False)],
)
def test_signature_does_not_replay_across_cluster_ballot_or_revision(
    pair: tuple[Ed25519Signer, KeyRing], field: str, value: object
) -> None:
    signer, ring = pair
    signed = sign_message(signer, vote())
    replayed = dataclasses.replace(signed, **{field: value})  # type: ignore[arg-type]
    assert not ring.verify_message(replayed)


def test_signature_does_not_replay_across_message_types(
    pair: tuple[Ed25519Signer, KeyRing],
) -> None:
    signer, ring = pair
    ok = sign_message(signer, vote())
    commit = CommitVote(CLUSTER, "a", 3, 1, 7, "digest", ok.signature)
    assert not ring.verify_message(commit)


def test_a_signature_binds_every_byte_of_a_large_document(
    pair: tuple[Ed25519Signer, KeyRing],
) -> None:
    """What is signed is a digest of the encoding, the same size for a vote or a
    PROPOSE with its document, and it changes with any byte of the document, even
    with the entry's own digest left as it was."""
    signer, ring = pair
    document = b"x" * 40_000
    entry = make_entry(hash_fn, CLUSTER, 7, "parent", document, "req", "a", "admin")
    signed = sign_message(signer, Propose(CLUSTER, "a", 3, 1, 7, entry, True, ()))
    assert len(signed.signing_bytes()) == len(SIGNING_DOMAIN) + 32
    assert len(vote().signing_bytes()) == len(SIGNING_DOMAIN) + 32
    assert ring.verify_message(signed)
    for changed in (document[:-1] + b"y", b"y" + document[1:], document + b"\n"):
        tampered = dataclasses.replace(signed, entry=dataclasses.replace(entry, document=changed))
        assert not ring.verify_message(tampered)


def test_unknown_signer_is_refused() -> None:
    signer = generate_signer("a")
    ring = KeyRing({"b": generate_signer("b").public_key_bytes()})
    assert not ring.verify_message(sign_message(signer, vote()))
    assert not ring.knows("a")


def test_signer_cannot_sign_for_someone_else() -> None:
    with pytest.raises(ValueError, match="cannot sign"):
        sign_message(generate_signer("b"), vote())


def test_verified_signatures_are_cached_once() -> None:
    signer = generate_signer("a")
    ring = KeyRing({"a": signer.public_key_bytes()})
    signed = sign_message(signer, vote())
    for _ in range(5):
        assert ring.verify_message(signed)
    stats = ring.stats()
    assert (stats.verified, stats.cache_hits) == (1, 4)


def test_own_signatures_can_be_remembered_as_verified() -> None:
    signer = generate_signer("a")
    ring = KeyRing({"a": signer.public_key_bytes()})
    assert ring.holds_key_of(signer)
    signed = sign_message(signer, vote(), remember_in=ring)
    assert ring.verify_message(signed)
    assert (ring.stats().verified, ring.stats().cache_hits) == (0, 1)
    # only that exact signature: the same vote with another signature is checked (and fails)
    forged = dataclasses.replace(signed, signature=bytes(64))
    assert not ring.verify_message(forged)


def test_a_ring_with_another_key_for_the_signer_does_not_vouch_for_it() -> None:
    signer, other = generate_signer("a"), generate_signer("a")
    ring = KeyRing({"a": other.public_key_bytes()})
    assert not ring.holds_key_of(signer)
    assert not KeyRing({"b": signer.public_key_bytes()}).holds_key_of(signer)
    assert not ring.verify_message(sign_message(signer, vote()))


def test_cache_is_bounded() -> None:
    signer = generate_signer("a")
    ring = KeyRing({"a": signer.public_key_bytes()}, cache_size=2)
    votes = [sign_message(signer, vote(revision=r)) for r in range(3)]
    for v in votes:
        assert ring.verify_message(v)
    assert ring.verify_message(votes[0])
    assert ring.stats().verified == 4  # the oldest was evicted and checked again


def test_default_cache_stays_small_however_many_signatures_pass() -> None:
    """A node checks signatures all day: what its ring keeps must not grow with them."""
    signer = generate_signer("a")
    ring = KeyRing({"a": signer.public_key_bytes()})
    passed = 3 * VERIFIED_CACHE_SIZE
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(passed):
            ring.remember("a", number.to_bytes(8, "big"), b"s" * 64)
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert held < 1024 * 1024
    assert ring.verify("a", (passed - 1).to_bytes(8, "big"), b"s" * 64)  # newest: a hit
    assert not ring.verify("a", (0).to_bytes(8, "big"), b"s" * 64)  # oldest: gone, and bad


def test_keys_load_from_raw_pem_and_der() -> None:
    ed = Ed25519Signer.generate("a")
    ec = EcdsaP256Signer.generate("b")
    assert load_public_key(ed.public_key_bytes(), "ed25519")
    assert load_public_key(ec.public_key_bytes(), "ecdsa_p256")
    again = Ed25519Signer.from_bytes("a", private_key_pem(ed))
    assert again.public_key_bytes() == ed.public_key_bytes()
    again_ec = EcdsaP256Signer.from_bytes("b", private_key_pem(ec))
    assert again_ec.public_key_bytes() == ec.public_key_bytes()
    with pytest.raises(KeyFormatError):
        load_public_key(ed.public_key_bytes(), "ecdsa_p256")
    with pytest.raises(KeyFormatError):
        load_public_key(b"not a key", "ed25519")


def test_wire_encoding_round_trips_nested_messages() -> None:
    signer = generate_signer("a")
    entry = make_entry(hash_fn, CLUSTER, 1, "parent", b"doc", "req", "a", "alice")
    propose = sign_message(signer, Propose(CLUSTER, "a", 0, 0, 1, entry, True, ()))
    data = encode_message(propose)
    assert decode_message(data) == propose
    assert encode_message(decode_message(data)) == data


@pytest.mark.parametrize(
    "data",
    [b"", b"X", b"M\x00\x02", b"M\xff\xff", b"S\x00\x00\x00\x05ab", b"I\x00"],
)
def test_malformed_wire_bytes_raise_decode_error(data: bytes) -> None:
    with pytest.raises(DecodeError):
        decode_message(data)


def test_wrong_field_type_is_a_decode_error() -> None:
    signer = generate_signer("a")
    good = encode_message(sign_message(signer, vote()))
    # replace the view int (I + 8 bytes) by a string of the same length
    index = good.index(b"I")
    bad = good[:index] + b"S\x00\x00\x00\x04abcd" + good[index + 9 :]
    with pytest.raises(DecodeError):
        decode_message(bad)
    with pytest.raises(DecodeError):
        decode_message(good + b"N")


def test_entry_digest_binds_content_and_parent() -> None:
    entry = make_entry(hash_fn, CLUSTER, 1, "parent", b"doc")
    assert entry_is_consistent(entry, CLUSTER, hash_fn)
    assert not entry_is_consistent(entry, "other", hash_fn)
    assert not entry_is_consistent(dataclasses.replace(entry, document=b"x"), CLUSTER, hash_fn)
    assert not entry_is_consistent(dataclasses.replace(entry, parent_digest="p"), CLUSTER, hash_fn)
    other = make_entry(hash_fn, CLUSTER, 1, "other-parent", b"doc")
    assert other.doc_hash == entry.doc_hash and other.digest != entry.digest
