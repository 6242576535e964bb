"""Reading the files the project takes as input, with a size bound.

Configuration, include, env, policy, key, certificate and mirror files are
kilobytes. A path that names something unbounded (`/dev/zero`, a log that keeps
growing) must be refused with a message, not read until memory runs out. Pipes
still work (`--config <(generate)`): they are read up to the bound like files.
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

MAX_INPUT_FILE_BYTES = 16 * 1024 * 1024
UNREADABLE_HINT = ("the user running butterfly needs read permission on the file and "
                   "search permission on its directories")
"""The hint for a `PermissionError` from `read_bytes` / `read_text`."""
_CHUNK = 64 * 1024


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; an `OSError` (EFBIG) when it holds more than the bound.

    The error's `strerror` reads as a reason, so callers that report
    `cannot read ...: {exc.strerror}` need no special case.
    """
    with open(path, "rb") as handle:
        info = os.fstat(handle.fileno())
        size = info.st_size
        if stat.S_ISREG(info.st_mode) and size <= MAX_INPUT_FILE_BYTES:
            data = handle.read(size + 1)  # a buffer of the file's size, not of the bound
            if len(data) > size:  # it grew meanwhile
                data += _read_up_to(handle, MAX_INPUT_FILE_BYTES + 1 - len(data))
        else:
            data = _read_up_to(handle, MAX_INPUT_FILE_BYTES + 1)
    if len(data) > MAX_INPUT_FILE_BYTES:
        raise OSError(
            errno.EFBIG,
            f"larger than {MAX_INPUT_FILE_BYTES // (1024 * 1024)} MiB, "
            "far more than any configuration, key or policy file holds",
            os.fspath(path),
        )
    return data


def _read_up_to(handle: BinaryIO, limit: int) -> bytes:
    """At most `limit` bytes, in chunks: a pipe or device has no size to go by."""
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = handle.read(min(left, _CHUNK))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_text(path: str | os.PathLike[str]) -> str:
    """The file as UTF-8 text (a `UnicodeDecodeError` when it is not), within the bound."""
    return read_bytes(path).decode("utf-8")
