"""The chain digest's exact encoding is part of the contract."""

from __future__ import annotations

import pytest
from blake3 import blake3

from butterfly_config.history import GENESIS_PARENT, entry_digest


def test_digest_is_blake3_of_the_documented_bytes() -> None:
    doc_hash = "ab" * 32
    expected_bytes = (
        b'{"doc_hash":"'
        + doc_hash.encode()
        + b'","parent_digest":"'
        + b"0" * 64
        + b'","revision":0}'
    )
    assert entry_digest(0, doc_hash, GENESIS_PARENT) == blake3(expected_bytes).hexdigest()
    assert GENESIS_PARENT == "0" * 64


def test_every_field_changes_the_digest() -> None:
    base = entry_digest(5, "aa" * 32, "bb" * 32)
    assert entry_digest(6, "aa" * 32, "bb" * 32) != base
    assert entry_digest(5, "ac" * 32, "bb" * 32) != base
    assert entry_digest(5, "aa" * 32, "bc" * 32) != base
    assert len(base) == 64 and base == base.lower()


@pytest.mark.parametrize(
    ("revision", "doc_hash", "parent"),
    [
        (-1, "aa", "bb"),
        (True, "aa", "bb"),
        (1, "AA", "bb"),
        (1, "", "bb"),
        (1, "aa", 'bb"'),
        (1.0, "aa", "bb"),
    ],
)
def test_malformed_inputs_are_refused(revision: object, doc_hash: str, parent: str) -> None:
    with pytest.raises(ValueError):
        entry_digest(revision, doc_hash, parent)  # type: ignore[arg-type]
