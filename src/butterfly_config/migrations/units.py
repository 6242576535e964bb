"""Size strings of older layouts ("1GB", "512MB") -> integer bytes.

Older layouts wrote sizes as strings and memory as `*_gb` integers; the current
schema stores integer `*_bytes`. Units are binary (1 GB = 2**30 bytes), the
convention of the reference schema itself, whose comments read
"32GB = 34359738368 bytes" and "100MB = 104857600 bytes". The explicit IEC
forms ("GiB") mean the same. Anything else ("1G", "1 gigs") is refused, not
guessed.
"""

from __future__ import annotations

import math
import re

from butterfly_config.schema.types import MAX_INT

BINARY_UNITS: dict[str, int] = {
    "B": 1,
    "KB": 2**10,
    "MB": 2**20,
    "GB": 2**30,
    "TB": 2**40,
    "KIB": 2**10,
    "MIB": 2**20,
    "GIB": 2**30,
    "TIB": 2**40,
}

_SIZE = re.compile(r"^\s*(?P<number>\d+(?:\.\d+)?)\s*(?P<unit>[A-Za-z]+)?\s*$")


class UnitError(ValueError):
    """A legacy value could not be read as the quantity the rule expects."""


def parse_size(value: object) -> int:
    """Bytes of a size given as an integer (bytes) or a string like "1GB" / "512 MiB"."""
    if isinstance(value, bool):
        raise UnitError(f"expected a size such as \"1GB\", got the boolean {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise UnitError(f"a size cannot be negative: {value}")
        return value
    if not isinstance(value, str):
        raise UnitError(f"expected a size such as \"1GB\", got {value!r}")
    match = _SIZE.match(value)
    if match is None:
        raise UnitError(f"{value!r} is not a size such as \"1GB\" or \"512MB\"")
    unit = (match.group("unit") or "B").upper()
    factor = BINARY_UNITS.get(unit)
    if factor is None:
        known = ", ".join(sorted(BINARY_UNITS))
        raise UnitError(f"unknown size unit {match.group('unit')!r} in {value!r} (known: {known})")
    digits = match.group("number")
    number = float(digits) if "." in digits else int(digits)
    return _whole_bytes(number * factor, f"{value!r}")


def gib_to_bytes(value: object) -> int:
    """`*_gb` integers of the older layout are GiB (binary), like every size in the schema."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UnitError(f"expected a number of GB, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise UnitError(f"a size must be a finite number, got {value}")
    if value < 0:
        raise UnitError(f"a size cannot be negative: {value}")
    return _whole_bytes(value * 2**30, f"{value!r} GB")


def _whole_bytes(total: float, shown: str) -> int:
    """`total` as an integer count of bytes, if it is one the schema can hold."""
    if (isinstance(total, float) and not math.isfinite(total)) or total > MAX_INT:
        raise UnitError(f"{shown} is more bytes than a 64-bit count holds")
    if total != int(total):
        raise UnitError(f"{shown} is not a whole number of bytes")
    return int(total)


def describe_bytes(count: int) -> str:
    """`1073741824` -> "1 GiB"; used in reports so the unit decision is visible."""
    for unit, factor in (("TiB", 2**40), ("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if count >= factor and count % factor == 0:
            return f"{count // factor} {unit}"
    return f"{count} bytes"
