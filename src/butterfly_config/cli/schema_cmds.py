"""`butterfly config defaults | init | schema`: files generated from the schema alone.

None of them reads a configuration, so they work before any file exists. Output
goes to stdout, or with --output to a file written whole (temporary file, then
rename), so an interrupted run never leaves half a file behind.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

from butterfly_config.errors import ConfigIOError, UsageError


def _write(target: str, text: str) -> None:
    """Replace `target` with `text` atomically (same-directory temp file + rename)."""
    path = Path(target)
    directory = path.parent
    if not directory.is_dir():
        raise ConfigIOError(
            f"cannot write {target}: directory {directory} does not exist",
            hint=f"create it first: mkdir -p {directory}",
        )
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(text)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except IsADirectoryError as exc:
        raise ConfigIOError(f"cannot write {target}: it is a directory") from exc
    except OSError as exc:
        raise ConfigIOError(f"cannot write {target}: {exc.strerror or exc}") from exc


def _emit(output: str | None, text: str, what: str) -> int:
    if output is None:
        sys.stdout.write(text)
    else:
        _write(output, text)
        print(f"wrote {what} to {output}", file=sys.stderr)
    return 0


def defaults(args: argparse.Namespace) -> int:
    """Print (or write) every option's default as TOML; unset options are left out."""
    import tomlkit

    from butterfly_config.schema.registry import default_document

    return _emit(args.output, tomlkit.dumps(default_document()), "the defaults")


def init(args: argparse.Namespace) -> int:
    """Write the annotated template; an existing file is replaced only with --force."""
    from butterfly_config.schema.template import render_template

    target = Path(args.output)
    if target.exists() and not args.force:
        raise UsageError(
            f"{args.output} already exists; not overwriting it",
            hint="pass --force to replace it, or choose another --output",
        )
    _write(args.output, render_template())
    print(f"wrote an annotated configuration template to {args.output}", file=sys.stderr)
    print(
        "editors validate it against ./butterfly.schema.json: "
        f"butterfly config schema --output {target.parent / 'butterfly.schema.json'}",
        file=sys.stderr,
    )
    return 0


def schema(args: argparse.Namespace) -> int:
    """Print (or write) the JSON Schema of a configuration file, for editors."""
    from butterfly_config.schema.jsonschema import json_schema

    text = json.dumps(json_schema(), indent=2, ensure_ascii=False) + "\n"
    return _emit(args.output, text, "the JSON Schema")
