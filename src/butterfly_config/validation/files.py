"""Filesystem checks for files that enabled features need.

Each check costs a stat or two, and runs only when the feature that needs the
file is enabled and the context allows filesystem look-ups. What is wrong is
said in words (missing, a directory, unreadable), and relative paths show what
they resolved to, since "the file is there" is usually about the wrong directory.
Paths are plain strings and `os` calls: this runs on every load.
"""

from __future__ import annotations

import os
import stat
from typing import TYPE_CHECKING

from butterfly_config.errors import ConfigIssue

from .context import ValidationContext

if TYPE_CHECKING:
    from butterfly_config.schema.root import ConfigModel


def readable_file_problem(path: str) -> str | None:
    """Why `path` cannot be read as a file, or None when it can."""
    try:
        info = os.stat(path)
    except FileNotFoundError:
        return "does not exist"
    except NotADirectoryError:
        return "does not exist (a parent on its path is a file, not a directory)"
    except PermissionError:
        return "cannot be reached: permission denied on a directory on its path"
    except OSError as exc:
        return f"cannot be checked: {exc.strerror or exc}"
    if stat.S_ISDIR(info.st_mode):
        return "is a directory, not a file"
    if not os.access(path, os.R_OK):
        return "is not readable by this user"
    return None


def writable_file_problem(path: str) -> str | None:
    """Why a file at `path` cannot be written (created with its missing parents).

    The node creates missing directories, so what matters is the nearest
    existing ancestor: it must be a directory this user may write into.
    """
    try:
        info = os.stat(path)
    except OSError:
        pass
    else:
        if stat.S_ISDIR(info.st_mode):
            return "is a directory, not a file"
        return None if os.access(path, os.W_OK) else "is not writable by this user"
    ancestor = os.path.dirname(os.path.abspath(path))
    while not os.path.lexists(ancestor):
        parent = os.path.dirname(ancestor)
        if parent == ancestor:
            break
        ancestor = parent
    if not os.path.isdir(ancestor):
        return f"cannot be created: '{ancestor}' is not a directory"
    if not os.access(ancestor, os.W_OK | os.X_OK):
        return f"cannot be created: directory '{ancestor}' is not writable by this user"
    return None


def describe(raw: str, resolved: str) -> str:
    """`'raw'`, plus what it resolved to when that differs."""
    if resolved == raw:
        return f"'{raw}'"
    return f"'{raw}' (resolved to '{resolved}')"


def required_file_issue(
    config: ConfigModel,
    ctx: ValidationContext,
    *,
    path: str,
    raw: str,
    what: str,
    hint: str,
) -> ConfigIssue | None:
    """An issue when the file an enabled feature reads is missing or unreadable.

    Severity follows the environment: an error in staging/production, a
    warning in development/test. None when paths are not checked or all is well.
    """
    if not ctx.check_paths:
        return None
    resolved = ctx.resolve_path(raw)
    problem = readable_file_problem(resolved)
    if problem is None:
        return None
    return ConfigIssue(
        path=path,
        message=f"{what} {describe(raw, resolved)} {problem}",
        hint=hint,
        severity=ctx.machine_severity(config),
    )
