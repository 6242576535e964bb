"""Numbers as operators read them in messages: bytes in binary units."""

from __future__ import annotations

_BINARY_UNITS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def human_bytes(count: int) -> str:
    """`count` bytes in the largest binary unit that keeps it >= 1, e.g. '32 GiB', '1.5 MiB'."""
    for unit, size in _BINARY_UNITS:
        if abs(count) >= size:
            text = f"{count / size:.2f}".rstrip("0").rstrip(".")
            return f"{text} {unit}"
    return f"{count} bytes"
