"""The wire decoder against a plain reference reader of the same grammar.

Valid messages, their truncations, single-byte changes, and random bytes: the
decoder gives the reference's value, or refuses what the reference refuses.
"""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from butterfly_config.consensus import encoding
from butterfly_config.consensus.crypto import generate_signer, sign_message
from butterfly_config.consensus.encoding import DecodeError
from butterfly_config.consensus.messages import (
    CommitCertificate,
    ConfigApplied,
    Decided,
    Finalize,
    Message,
    PrepareOk,
    Propose,
    decode_message,
    encode_message,
    make_entry,
)

CLUSTER = "c"


def _hash(data: bytes) -> str:
    return data.hex()[:16].ljust(16, "0")


class ReferenceReader:
    """The grammar of `encoding`, read the plain way: a cursor and a slice per read."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, size: int) -> bytes:
        end = self.pos + size
        if end > len(self.data):
            raise DecodeError("truncated message")
        chunk = self.data[self.pos : end]
        self.pos = end
        return chunk

    def value(self, depth: int) -> object:
        if depth > encoding.MAX_DEPTH:
            raise DecodeError("message nested too deeply")
        tag = self.take(1)
        if tag == b"N":
            return None
        if tag == b"T":
            return True
        if tag == b"F":
            return False
        if tag == b"I":
            return struct.unpack(">q", self.take(8))[0]
        if tag in (b"S", b"B"):
            (size,) = struct.unpack(">I", self.take(4))
            chunk = self.take(size)
            if tag == b"B":
                return chunk
            try:
                return chunk.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DecodeError("string is not UTF-8") from exc
        if tag == b"L":
            (count,) = struct.unpack(">I", self.take(4))
            if count > len(self.data) - self.pos:
                raise DecodeError("tuple longer than the message")
            return tuple(self.value(depth + 1) for _ in range(count))
        if tag == b"M":
            (code,) = struct.unpack(">H", self.take(2))
            cls = encoding._BY_CODE.get(code)
            if cls is None:
                raise DecodeError(f"unknown message type code {code}")
            values = [self.value(depth + 1) for _ in encoding._FIELDS[cls]]
            for check, item in zip(encoding._checks_for(cls), values, strict=True):
                if not check(item):
                    raise DecodeError("wrong type")
            return cls(*values)
        raise DecodeError(f"unknown tag {tag!r}")


def reference_decode(data: bytes) -> object:
    reader = ReferenceReader(data)
    value = reader.value(0)
    if reader.pos != len(data):
        raise DecodeError("trailing bytes after message")
    return value


def _outcome(decode: object, data: bytes) -> object:
    try:
        return ("value", decode(data))  # type: ignore[operator]
    except DecodeError:
        return ("refused",)


def _messages() -> list[Message]:
    signers = [generate_signer(f"n{i}") for i in range(4)]
    entry = make_entry(_hash, CLUSTER, 3, "parent", b'{"a":1}' * 20, "req-1", "n1", "admin")
    votes = tuple(sign_message(s, PrepareOk(CLUSTER, s.node_id, 0, 0, 3, entry.digest, True))
                  for s in signers)
    cert = CommitCertificate(0, 0, 3, entry.digest, (), votes)
    return [
        votes[0],
        sign_message(signers[0], Propose(CLUSTER, "n0", 0, 0, 3, entry, True, ())),
        sign_message(signers[0], Finalize(CLUSTER, "n0", 0, 0, 3, Decided(entry, cert))),
        sign_message(signers[2], ConfigApplied(CLUSTER, "n2", 0, 0, 3, entry.digest)),
    ]


MESSAGES = _messages()
WIRE = [encode_message(m) for m in MESSAGES]


def test_valid_messages_decode_as_the_reference_reads_them() -> None:
    for data, message in zip(WIRE, MESSAGES, strict=True):
        assert encoding.decode(data, object) == reference_decode(data) == message
        assert decode_message(data) == message


def test_every_truncation_is_refused_as_truncated() -> None:
    for data in WIRE:
        for end in range(len(data)):
            try:
                encoding.decode(data[:end], object)
            except DecodeError as exc:
                assert str(exc) in ("truncated message", "tuple longer than the message")
            else:
                raise AssertionError(f"{data[:end]!r} was accepted")


def test_a_tuple_longer_than_the_bytes_left_is_refused_before_reading_it() -> None:
    # 3 bytes follow, so 4 items cannot: refused on the count, not item by item
    data = b"L\x00\x00\x00\x04NNN"
    try:
        encoding.decode(data, tuple)
    except DecodeError as exc:
        assert str(exc) == "tuple longer than the message"
    else:
        raise AssertionError("accepted")


@settings(max_examples=400, deadline=None)
@given(which=st.integers(0, len(WIRE) - 1), place=st.integers(0, 10**6), byte=st.integers(0, 255))
def test_a_changed_byte_is_read_as_the_reference_reads_it(
    which: int, place: int, byte: int,
) -> None:
    data = bytearray(WIRE[which])
    data[place % len(data)] = byte
    changed = bytes(data)
    assert (_outcome(lambda d: encoding.decode(d, object), changed)
            == _outcome(reference_decode, changed))


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=64) | st.builds(lambda head, tail: head + tail,
                                         st.sampled_from([b"L", b"M\x00\x02", b"S", b"B", b"I"]),
                                         st.binary(max_size=40)))
def test_random_bytes_are_read_as_the_reference_reads_them(data: bytes) -> None:
    assert (_outcome(lambda d: encoding.decode(d, object), data)
            == _outcome(reference_decode, data))


def test_nesting_past_the_limit_is_refused() -> None:
    deep = b"L\x00\x00\x00\x01" * (encoding.MAX_DEPTH + 1) + b"N"
    assert _outcome(lambda d: encoding.decode(d, object), deep) == ("refused",)
    shallow = b"L\x00\x00\x00\x01" * encoding.MAX_DEPTH + b"N"
    assert encoding.decode(shallow, tuple) == reference_decode(shallow)
