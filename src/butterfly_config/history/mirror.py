"""`{data_dir}/config/current.toml`: a human-readable copy of the committed configuration.

The file is replaced atomically: the new content goes to a temp file in the
same directory, which is flushed and fsynced, renamed over the mirror, and the
directory is fsynced; a crash at any point leaves the old mirror or the new
one, never a mix. The header records the revision, cluster_hash, time and the
BLAKE3 of the body, so `read_mirror` detects a truncated or edited file:

    # butterfly-config: committed cluster configuration, written by the node; do not edit
    # revision: 7
    # cluster_hash: <64 hex>
    # written_at: 2026-01-01T00:00:00Z
    # body_blake3: <64 hex of the UTF-8 body below>
    #
    <body: TOML text>
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
import time
from pathlib import Path
from typing import NamedTuple

from blake3 import blake3

from butterfly_config import input_files
from butterfly_config.errors import ConfigIOError
from butterfly_config.history.errors import MirrorCorrupt
from butterfly_config.history.store import config_dir

MIRROR_NAME = "current.toml"
_TITLE = "# butterfly-config: committed cluster configuration, written by the node; do not edit"
_FIELDS = ("revision", "cluster_hash", "written_at", "body_blake3")
_HEADER_END = "#"


class Mirror(NamedTuple):
    """What `read_mirror` found: (revision, cluster_hash, TOML text of the body)."""

    revision: int
    cluster_hash: str
    text: str


def mirror_path(data_dir: str | os.PathLike[str]) -> Path:
    return config_dir(data_dir) / MIRROR_NAME


def _body_hash(body: str) -> str:
    return str(blake3(body.encode("utf-8")).hexdigest())


def render_mirror(revision: int, cluster_hash: str, body: str, timestamp: float) -> str:
    """The full file text: header lines then the body."""
    written = dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    values = (str(revision), cluster_hash, written, _body_hash(body))
    header = [_TITLE, *(f"# {name}: {value}" for name, value in zip(_FIELDS, values, strict=True))]
    return "\n".join([*header, _HEADER_END, ""]) + body


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove_stale_temps(directory: Path) -> None:
    """Temp files left by a writer that crashed before its rename."""
    for stale in directory.glob(f".{MIRROR_NAME}.*.tmp"):
        try:
            stale.unlink()
        except OSError:
            continue


def write_mirror(
    path: str | os.PathLike[str],
    revision: int,
    cluster_hash: str,
    body: str,
    *,
    timestamp: float | None = None,
) -> Path:
    """Atomically replace the mirror at `path` (see the module doc)."""
    target = Path(path)
    directory = target.parent
    tmp = directory / f".{MIRROR_NAME}.{os.getpid()}-{secrets.token_hex(4)}.tmp"
    data = render_mirror(
        revision, cluster_hash, body, time.time() if timestamp is None else timestamp
    )
    try:
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _remove_stale_temps(directory)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        _fsync_dir(directory)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ConfigIOError(
            f"{target}: cannot write the configuration mirror: {exc.strerror or exc}",
            hint="check free space and permissions of node.data_dir",
        ) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return target


def read_mirror(path: str | os.PathLike[str]) -> Mirror:
    """Read and check a mirror; `MirrorCorrupt` when its header or body hash is wrong."""
    source = Path(path)
    try:
        raw = input_files.read_bytes(source)
    except FileNotFoundError as exc:
        raise ConfigIOError(f"{source}: no configuration mirror here") from exc
    except OSError as exc:
        raise ConfigIOError(f"{source}: cannot read the mirror: {exc.strerror or exc}") from exc
    try:
        content = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _corrupt(source, "it is not UTF-8 text") from exc
    lines = content.split("\n", len(_FIELDS) + 2)
    if (
        len(lines) < len(_FIELDS) + 3
        or lines[0] != _TITLE
        or lines[len(_FIELDS) + 1] != _HEADER_END
    ):
        raise _corrupt(source, "its header is missing or incomplete")
    fields: dict[str, str] = {}
    for name, line in zip(_FIELDS, lines[1 : len(_FIELDS) + 1], strict=True):
        prefix = f"# {name}: "
        if not line.startswith(prefix):
            raise _corrupt(source, f"header line {name!r} is missing")
        fields[name] = line[len(prefix) :]
    body = lines[-1]
    if _body_hash(body) != fields["body_blake3"]:
        raise _corrupt(
            source, "its body does not match the hash in its header (truncated or edited)"
        )
    try:
        revision = int(fields["revision"])
    except ValueError as exc:
        raise _corrupt(source, "its revision is not a number") from exc
    return Mirror(revision, fields["cluster_hash"], body)


def _corrupt(path: Path, why: str) -> MirrorCorrupt:
    return MirrorCorrupt(
        f"{path}: the configuration mirror is damaged: {why}",
        hint="it is only a copy: the node rewrites it from its history at the next start",
    )
