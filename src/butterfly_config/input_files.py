"""Reading the files the project takes as input, with a size bound.

Configuration, include, env, policy, key, certificate and mirror files are
kilobytes. A path that names something unbounded (`/dev/zero`, a log that keeps
growing) must be refused with a message, not read until memory runs out. Pipes
still work (`--config <(generate)`): they are read up to the bound like files.
"""

from __future__ import annotations

import errno
import os

MAX_INPUT_FILE_BYTES = 16 * 1024 * 1024


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes; an `OSError` (EFBIG) when it holds more than the bound.

    The error's `strerror` reads as a reason, so callers that report
    `cannot read ...: {exc.strerror}` need no special case.
    """
    with open(path, "rb") as handle:
        data = handle.read(MAX_INPUT_FILE_BYTES + 1)
    if len(data) > MAX_INPUT_FILE_BYTES:
        raise OSError(
            errno.EFBIG,
            f"larger than {MAX_INPUT_FILE_BYTES // (1024 * 1024)} MiB, "
            "far more than any configuration, key or policy file holds",
            os.fspath(path),
        )
    return data


def read_text(path: str | os.PathLike[str]) -> str:
    """The file as UTF-8 text (a `UnicodeDecodeError` when it is not), within the bound."""
    return read_bytes(path).decode("utf-8")
