"""Reading an old-layout file and writing the migrated one.

Reading turns every problem into the project's errors: a missing file is an
I/O error (exit 2), malformed TOML a syntax error with file:line (exit 1).
Writing uses tomlkit so the result can carry comments: a header saying it was
migrated, and every unmapped key with its reason, so nothing is lost silently.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import ParseError, TOMLKitError
from tomlkit.items import Table

from butterfly_config import input_files
from butterfly_config.errors import ConfigIOError, ConfigIssue, ConfigSyntaxError
from butterfly_config.migrations.engine import iter_leaves, nest
from butterfly_config.migrations.report import MigrationReport, toml_value

_AT_LINE = re.compile(r"\s+at line \d+ col \d+$")


def read_document(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse `path` as TOML into plain dicts (no tomlkit wrapper types)."""
    file = Path(path)
    try:
        text = input_files.read_text(file)
    except FileNotFoundError as exc:
        raise ConfigIOError(f"{file}: no such file", hint="check the --input path") from exc
    except IsADirectoryError as exc:
        raise ConfigIOError(f"{file}: is a directory, not a TOML file",
                            hint="give --input the legacy TOML file itself") from exc
    except UnicodeDecodeError as exc:
        raise ConfigIOError(f"{file}: not UTF-8 text ({exc.reason})",
                            hint="configuration files must be UTF-8; re-save it as UTF-8"
                            ) from exc
    except PermissionError as exc:
        raise ConfigIOError(f"{file}: cannot read: {exc.strerror or exc}",
                            hint=input_files.UNREADABLE_HINT) from exc
    except OSError as exc:
        raise ConfigIOError(f"{file}: cannot read: {exc.strerror or exc}") from exc
    try:
        document = tomlkit.parse(text)
    except ParseError as exc:
        message = _AT_LINE.sub("", str(exc))
        issue = ConfigIssue(path="", message=f"not valid TOML: {message}", rule="toml-syntax",
                            file=str(file), line=exc.line, column=exc.col)
        raise ConfigSyntaxError(issue.render(), [issue]) from exc
    except TOMLKitError as exc:  # e.g. a key written twice: TOML forbids it, not a ParseError
        issue = ConfigIssue(path="", message=f"not valid TOML: {exc}", rule="toml-syntax",
                            file=str(file))
        raise ConfigSyntaxError(issue.render(), [issue]) from exc
    plain: dict[str, Any] = document.unwrap()
    return plain


def _ordered(flat: Mapping[str, Any], rank: Callable[[str], Any]) -> dict[str, Any]:
    return {path: flat[path] for path in sorted(flat, key=rank)}


def render_document(
    document: Mapping[str, Any],
    report: MigrationReport,
    source_name: str,
    rank: Callable[[str], Any],
    keeps: Callable[[str], bool],
) -> str:
    """The migrated TOML text: header comments, unmapped keys, then options in schema order."""
    origin = {
        target: m.source if value == m.old_value else f"{m.source} = {toml_value(m.old_value)}"
        for m in report.mapped
        for target, value in m.targets
    }
    flat = _ordered(dict(iter_leaves(document, keeps)), rank)
    out = tomlkit.document()
    out.add(tomlkit.comment(
        f"Migrated by `butterfly config migrate` from {source_name} "
        f"(layout {report.from_version}) to schema {report.to_version}."))
    out.add(tomlkit.comment("A trailing comment names the key each value came from."))
    if report.unmapped:
        out.add(tomlkit.comment(
            f"Unmapped keys ({len(report.unmapped)}), not carried over; review them:"))
        for key in report.unmapped:
            out.add(tomlkit.comment(f"  {key.source} = {toml_value(key.value)}"))
            out.add(tomlkit.comment(f"    why: {key.reason}"))
            if key.hint:
                out.add(tomlkit.comment(f"    hint: {key.hint}"))
    else:
        out.add(tomlkit.comment("Every key of the input was carried over."))
    out.add(tomlkit.nl())
    _fill(out, nest(flat), "", origin)
    return tomlkit.dumps(out)


def _fill(container: Any, table: Mapping[str, Any], prefix: str, origin: Mapping[str, str]) -> None:
    """Scalars before sub-tables, each scalar annotated with its source key when renamed."""
    scalars = {k: v for k, v in table.items() if not isinstance(v, Mapping)}
    tables = {k: v for k, v in table.items() if isinstance(v, Mapping)}
    for key, value in scalars.items():
        path = prefix + key
        item = tomlkit.item(value)
        source = origin.get(path)
        if source is not None and source != path:
            item.comment(f"was {source}")
        container.add(key, item)
    for key, value in tables.items():
        sub: Table = tomlkit.table(is_super_table=not any(
            not isinstance(v, Mapping) for v in value.values()))
        _fill(sub, value, f"{prefix}{key}.", origin)
        container.add(key, sub)


def write_text_atomically(path: str | os.PathLike[str], text: str) -> None:
    """Write via a temporary file and rename, so a failed write leaves no half file."""
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
            os.replace(tmp, target)
        except OSError:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise ConfigIOError(f"{target}: cannot write: {exc.strerror or exc}",
                            hint="check that the directory is writable") from exc
