"""Canonical, self-describing binary encoding of protocol values.

One encoder serves two jobs: the bytes a signature covers and the wire format
the node runtime sends. Being canonical (one encoding per value, fields in
declaration order, no floats, no maps) is what makes "the same message" mean
"the same bytes" for signatures and for the verified-signature cache.

Grammar (all lengths big-endian):
    N                      None
    T | F                  True | False
    I <8 bytes signed>     int
    S <u32 len> <utf-8>    str
    B <u32 len> <raw>      bytes
    L <u32 count> items    tuple
    M <u16 type code> fields in declaration order   (a registered dataclass)
"""

from __future__ import annotations

import dataclasses
import struct
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

_U32 = struct.Struct(">I")
_U16 = struct.Struct(">H")
_I64 = struct.Struct(">q")

MAX_DEPTH = 16
"""Nested values deeper than this are malformed (bounds decoder recursion)."""


class DecodeError(ValueError):
    """Raised for bytes that are not a well-formed encoding of a known message."""


_BY_CODE: dict[int, type[Any]] = {}
_CODE_OF: dict[type[Any], int] = {}
_FIELDS: dict[type[Any], tuple[str, ...]] = {}
_CHECKS: dict[type[Any], tuple[Callable[[Any], bool], ...]] = {}

T = TypeVar("T")


def register(code: int) -> Callable[[type[T]], type[T]]:
    """Class decorator: give a frozen dataclass a stable wire type code."""

    def wrap(cls: type[T]) -> type[T]:
        if code in _BY_CODE:
            raise ValueError(f"type code {code} already used by {_BY_CODE[code].__name__}")
        _BY_CODE[code] = cls
        _CODE_OF[cls] = code
        _FIELDS[cls] = tuple(f.name for f in dataclasses.fields(cls))  # type: ignore[arg-type]
        return cls

    return wrap


def type_code(cls: type[Any]) -> int:
    return _CODE_OF[cls]


def field_names(cls: type[Any]) -> tuple[str, ...]:
    return _FIELDS[cls]


def _encode_into(value: object, out: bytearray) -> None:
    if value is None:
        out += b"N"
    elif value is True:
        out += b"T"
    elif value is False:
        out += b"F"
    elif isinstance(value, int):
        out += b"I"
        out += _I64.pack(value)
    elif isinstance(value, str):
        raw = value.encode("utf-8")
        out += b"S"
        out += _U32.pack(len(raw))
        out += raw
    elif isinstance(value, bytes):
        out += b"B"
        out += _U32.pack(len(value))
        out += value
    elif isinstance(value, tuple):
        out += b"L"
        out += _U32.pack(len(value))
        for item in value:
            _encode_into(item, out)
    else:
        cls = type(value)
        code = _CODE_OF.get(cls)
        if code is None:
            raise TypeError(f"cannot encode {cls.__name__}")
        out += b"M"
        out += _U16.pack(code)
        for name in _FIELDS[cls]:
            _encode_into(getattr(value, name), out)


def encode(value: object) -> bytes:
    """Canonical bytes of a value (see the module grammar)."""
    out = bytearray()
    _encode_into(value, out)
    return bytes(out)


def encode_fields(value: object, names: tuple[str, ...]) -> bytes:
    """Canonical bytes of a registered dataclass restricted to some fields.

    Used for signing: the type code plus every field except the signature.
    """
    out = bytearray(b"M")
    out += _U16.pack(_CODE_OF[type(value)])
    for name in names:
        _encode_into(getattr(value, name), out)
    return bytes(out)


_UNPACK_U32 = _U32.unpack_from
_UNPACK_U16 = _U16.unpack_from
_UNPACK_I64 = _I64.unpack_from
_N, _T, _F, _I, _S, _B, _L, _M = b"NTFISBLM"


def _value(data: bytes, pos: int, depth: int) -> tuple[object, int]:
    """The value encoded at `pos`, and the position after it.

    Reads in place (`unpack_from`, one slice per string or bytes value): a
    FINALIZE carries some sixty values, and each node decodes several messages
    and heartbeats per commit.
    """
    if depth > MAX_DEPTH:
        raise DecodeError("message nested too deeply")
    size = len(data)
    if pos >= size:
        raise DecodeError("truncated message")
    tag = data[pos]
    pos += 1
    if tag in (_S, _B):
        if pos + 4 > size:
            raise DecodeError("truncated message")
        (length,) = _UNPACK_U32(data, pos)
        pos += 4
        end = pos + length
        if end > size:
            raise DecodeError("truncated message")
        chunk = data[pos:end]
        if tag == _B:
            return chunk, end
        try:
            return chunk.decode("utf-8"), end
        except UnicodeDecodeError as exc:
            raise DecodeError("string is not UTF-8") from exc
    if tag == _I:
        if pos + 8 > size:
            raise DecodeError("truncated message")
        return int(_UNPACK_I64(data, pos)[0]), pos + 8
    if tag == _M:
        if pos + 2 > size:
            raise DecodeError("truncated message")
        (code,) = _UNPACK_U16(data, pos)
        pos += 2
        cls = _BY_CODE.get(code)
        if cls is None:
            raise DecodeError(f"unknown message type code {code}")
        names = _FIELDS[cls]
        values = []
        for _ in names:
            item, pos = _value(data, pos, depth + 1)
            values.append(item)
        for check, item, name in zip(_checks_for(cls), values, names, strict=True):
            if not check(item):
                raise DecodeError(f"{cls.__name__}.{name} has the wrong type")
        return cls(*values), pos
    if tag == _N:
        return None, pos
    if tag == _T:
        return True, pos
    if tag == _F:
        return False, pos
    if tag == _L:
        if pos + 4 > size:
            raise DecodeError("truncated message")
        (count,) = _UNPACK_U32(data, pos)
        pos += 4
        if count > size - pos:
            raise DecodeError("tuple longer than the message")
        items = []
        for _ in range(count):
            item, pos = _value(data, pos, depth + 1)
            items.append(item)
        return tuple(items), pos
    raise DecodeError(f"unknown tag {bytes([tag])!r}")


def decode(data: bytes, expected: type[T]) -> T:
    """Parse bytes produced by `encode`; raise DecodeError on anything else."""
    data = bytes(data)
    value, end = _value(data, 0, 0)
    if end != len(data):
        raise DecodeError("trailing bytes after message")
    if not isinstance(value, expected):
        raise DecodeError(f"expected {expected.__name__}, got {type(value).__name__}")
    return value


def _checker(hint: object) -> Callable[[Any], bool]:
    """A predicate that tells whether a decoded value fits a type annotation."""
    origin = typing.get_origin(hint)
    if hint is type(None):
        return lambda v: v is None
    if hint is bool:
        return lambda v: isinstance(v, bool)
    if hint is int:
        return lambda v: isinstance(v, int) and not isinstance(v, bool)
    if hint in (str, bytes):
        kind = hint
        return lambda v: isinstance(v, kind)
    if origin is typing.Literal:
        allowed = typing.get_args(hint)
        return lambda v: v in allowed and type(v) in {type(a) for a in allowed}
    if origin in (typing.Union, types.UnionType):
        options = [_checker(arg) for arg in typing.get_args(hint)]
        return lambda v: any(check(v) for check in options)
    if origin is tuple:
        args = typing.get_args(hint)
        if len(args) == 2 and args[1] is Ellipsis:
            item = _checker(args[0])
            return lambda v: isinstance(v, tuple) and all(item(x) for x in v)
        parts = [_checker(arg) for arg in args]
        return lambda v: (
            isinstance(v, tuple)
            and len(v) == len(parts)
            and all(check(x) for check, x in zip(parts, v, strict=True))
        )
    if isinstance(hint, type) and hint in _CODE_OF:
        cls = hint
        return lambda v: isinstance(v, cls)
    raise TypeError(f"unsupported field type {hint!r}")


def _checks_for(cls: type[Any]) -> tuple[Callable[[Any], bool], ...]:
    checks = _CHECKS.get(cls)
    if checks is None:
        hints = typing.get_type_hints(cls)
        checks = tuple(_checker(hints[name]) for name in _FIELDS[cls])
        _CHECKS[cls] = checks
    return checks
