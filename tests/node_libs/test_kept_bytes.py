"""Bytes a node keeps (agreed documents, the section texts of its readings) hold no
more memory than their length: orjson's own results keep its writer's larger
buffer, which would double what each kept revision costs."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import orjson

from butterfly_config.canonical import canonical_bytes, encode
from butterfly_config.config import ButterflyConfig
from butterfly_config.node.document_reading import Reading

COPIES = 200  # background allocations during the window are shared out over many copies
HEADER_SLACK = 128  # a bytes object's header, plus allocator rounding


def held_per_copy(make: Callable[[], bytes]) -> tuple[int, int]:
    """(traced bytes each kept result holds, its length); one call first, unmeasured,
    fills whatever caches the call keeps for good."""
    make()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        kept = [make() for _ in range(COPIES)]
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    return (after - before) // COPIES, len(kept[0])


DOCUMENT = {f"section{i:03d}": {"name": "x" * 16, "limit": i} for i in range(100)}


def test_orjson_itself_keeps_a_larger_buffer() -> None:
    """Why the copy is there; if orjson stops doing this, the copy can go."""
    held, length = held_per_copy(lambda: orjson.dumps(DOCUMENT, option=orjson.OPT_SORT_KEYS))
    assert held > length + HEADER_SLACK


def test_encoded_documents_hold_only_their_length() -> None:
    held, length = held_per_copy(lambda: encode(DOCUMENT))
    assert length > 3000
    assert held <= length + HEADER_SLACK


def test_agreed_documents_hold_only_their_length() -> None:
    model = ButterflyConfig.defaults().model
    held, length = held_per_copy(lambda: canonical_bytes(model, cluster_only=True))
    assert held <= length + HEADER_SLACK


def test_section_texts_of_a_reading_hold_only_their_length() -> None:
    readings = [Reading(encode(DOCUMENT)) for _ in range(COPIES + 1)]
    for each in readings:
        each.section_text("section000")  # its section cache exists before measuring
    waiting = iter(readings)

    def section() -> bytes:
        text = next(waiting).section_text("section042")
        assert text is not None
        return text

    held, length = held_per_copy(section)
    assert 0 < length < 100
    assert held <= length + HEADER_SLACK
