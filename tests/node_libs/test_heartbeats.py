"""Signed heartbeats: genuine ones are accepted, forged, unsigned, replayed or foreign ones not."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from butterfly_config.consensus.crypto import KeyRing, generate_signer
from butterfly_config.consensus.encoding import encode
from butterfly_config.node.heartbeats import (
    Heartbeat,
    HeartbeatPace,
    HeartbeatRefused,
    HeartbeatVerifier,
    PaceSettings,
    SequenceNumbers,
    decode_heartbeat,
    encode_heartbeat,
)

SIGNERS = {name: generate_signer(name) for name in ("n0", "n1", "n2", "n3")}
OUTSIDER = generate_signer("mallory")


def verifier(node_id: str = "n0") -> HeartbeatVerifier:
    ring = KeyRing({n: s.public_key_bytes() for n, s in SIGNERS.items()})
    return HeartbeatVerifier("prod", node_id, frozenset(SIGNERS), ring)


def beat(sender: str = "n1", seq: int = 1, **changes: object) -> Heartbeat:
    heartbeat = Heartbeat("prod", sender, seq, 3, "ab" * 32, 0, 100)
    return dataclasses.replace(heartbeat, **changes)  # type: ignore[arg-type]


def test_a_genuine_heartbeat_round_trips() -> None:
    heartbeat = beat()
    accepted = verifier().accept(encode_heartbeat(heartbeat, SIGNERS["n1"]), "n1")
    assert accepted == heartbeat
    decoded, signed, signature = decode_heartbeat(encode_heartbeat(heartbeat, SIGNERS["n1"]))
    assert decoded == heartbeat and signed == heartbeat.signing_bytes() and signature


def test_the_header_may_be_absent_but_never_contradict() -> None:
    check = verifier()
    check.accept(encode_heartbeat(beat(seq=1), SIGNERS["n1"]))
    with pytest.raises(HeartbeatRefused, match="header"):
        check.accept(encode_heartbeat(beat(seq=2), SIGNERS["n1"]), "n2")


def test_signing_for_someone_else_is_impossible() -> None:
    with pytest.raises(ValueError):
        encode_heartbeat(beat(sender="n2"), SIGNERS["n1"])


def forged(kind: str) -> bytes:
    heartbeat = beat()
    signed = heartbeat.signing_bytes()
    if kind == "other key":  # n2 signs a heartbeat that claims to be n1's
        return encode((signed, SIGNERS["n2"].sign(signed)))
    if kind == "unsigned":
        return encode((signed, b""))
    if kind == "tampered":  # n1's signature over revision 3, sent claiming revision 9
        return encode((dataclasses.replace(heartbeat, revision=9).signing_bytes(),
                       SIGNERS["n1"].sign(signed)))
    if kind == "outsider":
        outsider = beat(sender="mallory")
        return encode_heartbeat(outsider, OUTSIDER)
    if kind == "other cluster":
        return encode_heartbeat(beat(cluster="staging"), SIGNERS["n1"])
    if kind == "from myself":
        return encode_heartbeat(beat(sender="n0"), SIGNERS["n0"])
    if kind == "garbage":
        return b"\x00not a heartbeat"
    if kind == "wrong shape":
        return encode((b"x", b"y", b"z"))
    if kind == "wrong domain":
        body = encode(("butterfly-config/consensus/v1", "prod", "n1", 1, 3, "h", 0, 100))
        return encode((body, SIGNERS["n1"].sign(body)))
    if kind == "zero interval":
        return encode_heartbeat(beat(interval_ms=0), SIGNERS["n1"])
    raise AssertionError(kind)


KINDS = ["other key", "unsigned", "tampered", "outsider", "other cluster", "from myself",
         "garbage", "wrong shape", "wrong domain", "zero interval"]


@pytest.mark.parametrize("kind", KINDS)
def test_forged_unsigned_and_foreign_heartbeats_are_refused_and_change_nothing(kind: str) -> None:
    check = verifier()
    with pytest.raises(HeartbeatRefused):
        check.accept(forged(kind), "")
    # nothing was recorded: n1's genuine heartbeat with sequence 1 is still fresh
    assert check.accept(encode_heartbeat(beat(seq=1), SIGNERS["n1"]), "n1").seq == 1


def test_replays_and_stale_sequence_numbers_are_refused() -> None:
    check = verifier()
    wire = encode_heartbeat(beat(seq=5), SIGNERS["n1"])
    check.accept(wire, "n1")
    with pytest.raises(HeartbeatRefused, match="replayed"):
        check.accept(wire, "n1")
    with pytest.raises(HeartbeatRefused, match="replayed"):
        check.accept(encode_heartbeat(beat(seq=4), SIGNERS["n1"]), "n1")
    check.accept(encode_heartbeat(beat(seq=6), SIGNERS["n1"]), "n1")
    # sequences are per sender
    check.accept(encode_heartbeat(beat(sender="n2", seq=1), SIGNERS["n2"]), "n2")


def test_sequence_numbers_grow_across_restarts() -> None:
    first = SequenceNumbers(epoch=1)
    before = [first.next() for _ in range(1000)]
    restarted = SequenceNumbers(epoch=2)
    after = restarted.next()
    assert before == sorted(before) and len(set(before)) == 1000
    assert after > before[-1]
    with pytest.raises(ValueError):
        SequenceNumbers(epoch=-1)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_are_refused_cleanly(data: bytes) -> None:
    with pytest.raises(HeartbeatRefused):
        verifier().accept(data, "n1")


@settings(max_examples=100, deadline=None)
@given(st.integers(min_value=0, max_value=600), st.integers(min_value=0, max_value=255))
def test_any_flipped_byte_is_refused(position: int, flip: int) -> None:
    wire = bytearray(encode_heartbeat(beat(seq=7), SIGNERS["n1"]))
    index = position % len(wire)
    wire[index] ^= flip or 1
    with pytest.raises(HeartbeatRefused):
        verifier().accept(bytes(wire), "")


# -- pace ------------------------------------------------------------------------------
def test_fixed_pace_when_not_adaptive() -> None:
    pace = HeartbeatPace(PaceSettings(interval_ms=120, adaptive=False))
    assert pace.observe(10_000) == 120
    assert pace.observe(0) == 120


def test_adaptive_pace_backs_off_under_local_stress_and_recovers() -> None:
    pace = HeartbeatPace(PaceSettings(interval_ms=100, adaptive=True, min_interval_ms=50,
                                      max_interval_ms=500))
    assert pace.observe(0) == 100
    assert pace.observe(60) == 100  # 60 ms late on a 100 ms pace: ordinary scheduling
    assert pace.observe(120) == 200  # a missed beat: overloaded
    assert pace.observe(250) == 400
    assert pace.observe(1000) == 500  # bounded by max_heartbeat_interval_ms
    assert pace.observe(5000) == 500
    intervals = [pace.observe(1) for _ in range(3 * HeartbeatPace.recovery_rounds)]
    assert intervals[-1] == 100  # back to the configured interval, step by step
    assert intervals == sorted(intervals, reverse=True)
    assert min(intervals) >= 100


def test_pace_stays_within_bounds_and_follows_live_settings() -> None:
    pace = HeartbeatPace(PaceSettings(interval_ms=100, min_interval_ms=50, max_interval_ms=300))
    pace.observe(1000)
    pace.configure(PaceSettings(interval_ms=40, min_interval_ms=60, max_interval_ms=300))
    assert pace.interval_ms == 60  # the configured interval, clamped to the minimum
    pace.configure(PaceSettings(interval_ms=250, adaptive=False, min_interval_ms=50,
                                max_interval_ms=200))
    assert pace.observe(0) == 200


def test_a_heartbeat_announcing_too_many_or_odd_paths_is_refused() -> None:
    from butterfly_config.consensus.encoding import encode
    from butterfly_config.node.heartbeats import HEARTBEAT_DOMAIN, MAX_ANNOUNCED_PATHS

    for paths in (tuple(f"p{i}" for i in range(MAX_ANNOUNCED_PATHS + 1)), (1, 2)):
        body = encode((encode((HEARTBEAT_DOMAIN, "prod", "n1", 1, 3, "h", 0, 100, paths)),
                       b"sig"))
        with pytest.raises(HeartbeatRefused, match="wrong fields"):
            decode_heartbeat(body)
