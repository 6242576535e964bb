"""Value types shared by the section models.

They are narrow on purpose: a value that cannot mean anything (a port of
70000, a fraction of 1.5, a negative byte count) is refused by the model, with
one readable message, before any cross-field rule runs. Range checks are
pydantic constraints (evaluated in pydantic-core, so validation stays fast);
only the few string formats whose default error would be cryptic get a small
Python check with a message written for operators.
"""

from __future__ import annotations

import functools
import ipaddress
import itertools
import re
from collections.abc import Callable
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, Strict, StringConstraints, WithJsonSchema
from pydantic_core import PydanticCustomError

# -- numbers -----------------------------------------------------------------
# Strict: a number must be written as a number. `true` is not 1 and "1000" is not
# 1000 (text from the environment or --set is parsed by kind in sources/ first).
# An integer is still accepted where a float belongs.
MAX_INT = 2**63 - 1
"""TOML's integers are 64-bit signed, and so are the canonical encoding's: a larger
count could be loaded but not hashed, stored or sent to a peer."""
NonNegativeInt = Annotated[int, Strict(), Field(ge=0, le=MAX_INT)]
PositiveInt = Annotated[int, Strict(), Field(ge=1, le=MAX_INT)]
# Floats are finite: TOML can write inf, but the canonical encoding (JSON) cannot
# carry it, so the agreed document would say null where the file said inf.
NonNegativeFloat = Annotated[float, Strict(), Field(ge=0.0, allow_inf_nan=False)]
PositiveFloat = Annotated[float, Strict(), Field(gt=0.0, allow_inf_nan=False)]
Fraction = Annotated[float, Strict(), Field(ge=0.0, le=1.0, allow_inf_nan=False)]
"""A share of something, 0.0 (none) to 1.0 (all)."""
Percent = Annotated[float, Strict(), Field(ge=0.0, le=100.0, allow_inf_nan=False)]
IntPercent = Annotated[int, Strict(), Field(ge=0, le=100)]
Multiplier = Annotated[float, Strict(), Field(ge=1.0, allow_inf_nan=False)]
"""A growth factor: values below 1 would shrink instead of grow."""
CompressionLevel = Annotated[int, Strict(), Field(ge=1, le=22)]
"""The widest range of any codec (zstd 1-22); per-codec limits are a validation rule."""
Flag = Annotated[bool, Strict()]
"""A boolean written as true/false, not 1/0 or "yes"."""

def _increasing(bounds: tuple[float, ...]) -> tuple[float, ...]:
    if any(low >= high for low, high in itertools.pairwise(bounds)):
        raise PydanticCustomError(
            "buckets_order", "bucket bounds must be strictly increasing, got {bounds}",
            {"bounds": list(bounds)},
        )
    return bounds


def _distinct(ids: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(ids)) != len(ids):
        raise PydanticCustomError(
            "duplicate_ids", "each id may appear only once, got {ids}", {"ids": list(ids)}
        )
    return ids


Buckets = Annotated[
    tuple[NonNegativeFloat, ...],
    AfterValidator(_increasing),
    Field(min_length=1, json_schema_extra={"x-type": "increasing list of numbers >= 0"}),
]
"""Histogram bucket upper bounds, in increasing order."""
DeviceIds = Annotated[
    tuple[NonNegativeInt, ...],
    AfterValidator(_distinct),
    Field(json_schema_extra={"uniqueItems": True, "x-type": "list of distinct integers >= 0"}),
]
"""Device indices, each at most once."""

# -- strings -----------------------------------------------------------------
NonEmptyStr = Annotated[str, StringConstraints(min_length=1)]
"""Names and URLs: the empty string is never meaningful."""


def _no_nul(path: str) -> str:
    if "\x00" in path:
        raise PydanticCustomError(
            "path_nul", "a path cannot contain a NUL character (at character {at})",
            {"at": path.index("\x00") + 1})
    return path


PathText = Annotated[str, StringConstraints(min_length=1), AfterValidator(_no_nul)]
"""A file or directory path: not empty, and no NUL (no system call can take one)."""

LogLevel = Literal["trace", "debug", "info", "warn", "error"]


def _format_check(
    pattern: str,
    error_type: str,
    message: str,
    check: Callable[[str], bool] | None = None,
) -> AfterValidator:
    """A check that `value` matches `pattern` (and `check`), failing with `message`."""
    compiled = re.compile(pattern)

    def validate(value: str) -> str:
        if compiled.fullmatch(value) is None or (check is not None and not check(value)):
            raise PydanticCustomError(error_type, message, {"value": value})
        return value

    return AfterValidator(validate)


def _pattern_schema(pattern: str, label: str) -> WithJsonSchema:
    """Keep the pattern in the JSON Schema so TOML editors flag the same mistakes.

    `label` ("x-type") names the format for people, e.g. in docs/reference.md.
    """
    return WithJsonSchema({"type": "string", "pattern": f"^{pattern}$", "x-type": label})


_PORT = (
    r"(?:6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
)
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_IPV6 = r"\[[0-9A-Fa-f:.]+(?:%[A-Za-z0-9._-]+)?\]"
ADDRESS_PATTERN = rf"(?:{_IPV6}|{_HOSTNAME}):{_PORT}"


@functools.lru_cache(maxsize=1024)
def _address_host_ok(value: str) -> bool:
    """Numeric hosts must be real IPv4 / IPv6 addresses, not just digits and dots.

    Cached: every build of a node's configuration checks the same member addresses.
    """
    host = value.rsplit(":", 1)[0]
    try:
        if host.startswith("["):
            ipaddress.IPv6Address(host[1:-1].split("%", 1)[0])
        elif host.replace(".", "").isdigit():
            ipaddress.IPv4Address(host)
    except ValueError:
        return False
    return True


Address = Annotated[
    str,
    _format_check(
        ADDRESS_PATTERN,
        "address",
        "'{value}' is not a host:port address (host = hostname, IPv4 or [IPv6]; "
        "port 1-65535), e.g. '10.0.1.10:7890', 'node-1.example:7890' or '[::1]:7890'",
        _address_host_ok,
    ),
    _pattern_schema(ADDRESS_PATTERN, "host:port address"),
]

SEMVER_PATTERN = (
    r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)"
    r"(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?"
)
SemVer = Annotated[
    str,
    _format_check(
        SEMVER_PATTERN, "semver", "'{value}' is not a MAJOR.MINOR.PATCH version, e.g. '1.0.0'"
    ),
    _pattern_schema(SEMVER_PATTERN, "version MAJOR.MINOR.PATCH"),
]

EMAIL_PATTERN = r"[^@\s]+@[^@\s]+\.[^@\s]+"
Email = Annotated[
    str,
    _format_check(
        EMAIL_PATTERN, "email", "'{value}' is not an e-mail address, e.g. 'ops@example.com'"
    ),
    _pattern_schema(EMAIL_PATTERN, "e-mail address"),
]

NODE_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"
NodeId = Annotated[
    str,
    _format_check(
        NODE_ID_PATTERN,
        "node_id",
        "'{value}' is not a node id: use 1-128 letters, digits, '.', '_' or '-', "
        "starting with a letter or digit, e.g. 'node-001'",
    ),
    _pattern_schema(NODE_ID_PATTERN, "node id (letters, digits, . _ -)"),
]

METRIC_PREFIX_PATTERN = r"[A-Za-z_][A-Za-z0-9_]*"
MetricPrefix = Annotated[
    str,
    _format_check(
        METRIC_PREFIX_PATTERN,
        "metric_prefix",
        "'{value}' cannot start a Prometheus metric name: use letters, digits and '_', "
        "not starting with a digit, e.g. 'butterfly'",
    ),
    _pattern_schema(METRIC_PREFIX_PATTERN, "metric name prefix"),
]
