"""Numbers as operators read them in messages: bytes in binary units."""

from __future__ import annotations

_BINARY_UNITS = (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))


def human_bytes(count: int) -> str:
    """`count` bytes in the largest binary unit that keeps it >= 1, e.g. '32 GiB', '1.5 MiB'.

    Two decimals, truncated rather than rounded, so a value just below a limit
    never prints as the limit itself (1048575 bytes is '1023.99 KiB', not '1024 KiB').
    """
    for unit, size in _BINARY_UNITS:
        if abs(count) >= size:
            hundredths = abs(count) * 100 // size
            sign = "-" if count < 0 else ""
            text = f"{hundredths // 100}.{hundredths % 100:02d}".rstrip("0").rstrip(".")
            return f"{sign}{text} {unit}"
    return f"{count} byte" if abs(count) == 1 else f"{count} bytes"
