"""Where a path option points: one rule for validation, the node and the CLI.

Relative paths start at the directory of the (first) configuration file, as
include paths do, so a node started from any working directory (a service
manager starts it in `/`) opens the files its configuration was checked with.
"""

from __future__ import annotations

import os


def resolve_path(raw: str, base_dir: str | None) -> str:
    """`raw` with `~` expanded, joined to `base_dir` when relative.

    A string, not a Path: validation runs this on every load, and pathlib's
    object overhead would dominate the stat call that follows.
    """
    path = os.path.expanduser(raw)
    if base_dir is not None and not os.path.isabs(path):
        return os.path.join(base_dir, path)
    return path
