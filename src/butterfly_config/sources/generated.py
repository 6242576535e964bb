"""Values the loader makes up when the operator leaves them unset: the node id.

The id must survive restarts, so it is tied to the data directory: an id the
node already persisted in `{data_dir}/node_id` wins, else one is derived from
the host name and the directory (the node writes it there when it starts).
"""

from __future__ import annotations

import os
import socket

from blake3 import blake3

from .layer import Source

NODE_ID_FILE = "node_id"


def derived_node_id(data_dir: str, hostname: str | None = None) -> str:
    """`node-` + 12 hex digits of BLAKE3(hostname + absolute data_dir)."""
    host = socket.gethostname() if hostname is None else hostname
    absolute = os.path.abspath(os.path.expanduser(data_dir))
    return "node-" + str(blake3((host + absolute).encode("utf-8")).hexdigest())[:12]


def generated_node_id(data_dir: str) -> tuple[str, Source]:
    """The persisted id of `data_dir` if there is one, else a derived one; with its source."""
    stored = os.path.join(os.path.expanduser(data_dir), NODE_ID_FILE)
    try:
        with open(stored, encoding="utf-8") as handle:
            existing = handle.read().strip()
    except (OSError, UnicodeDecodeError, ValueError):  # ValueError: a NUL in data_dir,
        existing = ""  # which validation reports
    if existing:
        return existing, Source("generated", stored)
    return derived_node_id(data_dir), Source("generated", "hostname + data_dir")
