"""TOML configuration files and their `[include]` directives.

Each file is read and parsed exactly once. The `[include]` table is consumed
here: it says where values come from and is not itself configuration, so it
never reaches the merged document or a hash.
"""

from __future__ import annotations

import os
import re
import tomllib
from typing import Any

from butterfly_config import input_files, toml_text
from butterfly_config.errors import (
    ConfigIOError,
    ConfigIssue,
    ConfigSyntaxError,
    IncludeCycleError,
)
from butterfly_config.schema import registry

from .keys import claim_known
from .layer import Layer, Source
from .lines import find_line

_POSITION = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


GIVEN_WITH_CONFIG = "given with --config or BUTTERFLY_CONFIG"


def read_text(
    display: str, *, named_by: str | None = None, given: str = GIVEN_WITH_CONFIG
) -> str:
    """The file's text, or a `ConfigIOError` / `ConfigSyntaxError` an operator can act on.

    `given` says where the operator named the file (`given with --env-file`...), so
    the hint of a missing file points at the option to correct.
    """
    why = f" (named in [include] files of {named_by})" if named_by else ""
    try:
        data = input_files.read_bytes(display)
    except FileNotFoundError:
        raise ConfigIOError(
            f"{display}: no such file{why}",
            hint="check the path; include paths are relative to the file that names them"
            if named_by
            else f"check the path {given}",
        ) from None
    except IsADirectoryError:
        raise ConfigIOError(f"{display}: is a directory, not a file{why}",
                            hint="name the file itself, not the directory that holds it",
                            ) from None
    except PermissionError as exc:
        raise ConfigIOError(f"{display}: cannot be read: {exc.strerror or exc}{why}",
                            hint=input_files.UNREADABLE_HINT) from None
    except OSError as exc:
        raise ConfigIOError(f"{display}: cannot be read: {exc.strerror or exc}{why}") from None
    except ValueError:  # a NUL in the name: no system call takes one
        raise ConfigIOError(f"{display!r}: a file name cannot contain a NUL character{why}",
                            hint=f"check the path {given}") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        issue = ConfigIssue(
            path="",
            message=f"not UTF-8 text (byte {exc.start}); configuration files must be UTF-8",
            rule="syntax",
            file=display,
        )
        raise ConfigSyntaxError(f"{display}: not UTF-8 text", [issue]) from None


def parse_toml(text: str, display: str) -> dict[str, Any]:
    """Parse TOML text; malformed text is a `ConfigSyntaxError` with file:line:col."""
    try:
        return toml_text.loads(text)
    except tomllib.TOMLDecodeError as exc:
        issue = toml_error_issue(exc, text, display)
        raise ConfigSyntaxError(f"{display}: invalid TOML", [issue]) from None


def toml_error_issue(
    exc: tomllib.TOMLDecodeError, text: str, display: str | None
) -> ConfigIssue:
    """The `syntax` issue for TOML that does not parse, with its line and column where
    the parser gives them (files and API bodies report it alike)."""
    message = str(exc)
    line = column = None
    found = _POSITION.search(message)
    if found is not None:
        line, column = int(found.group(1)), int(found.group(2))
        message = message[: found.start()]
    elif message.endswith("(at end of document)"):
        message = message.removesuffix("(at end of document)").rstrip()
        line = text.count("\n") + 1
    return ConfigIssue(
        path="",
        message=f"invalid TOML: {message}",
        hint="see https://toml.io for the syntax",
        rule="syntax",
        file=display,
        line=line,
        column=column,
    )


def unknown_key_issue(path: str, file: str, text: str, *, strict: bool) -> ConfigIssue:
    """The operator-facing report of a key the schema does not know."""
    suggestion = registry.suggest(path)
    hint = f"did you mean {suggestion}?" if suggestion else "see `butterfly config defaults`"
    return ConfigIssue(
        path=path,
        message=f"unknown key '{path}'" + ("" if strict else " (ignored)"),
        hint=hint,
        rule="unknown-key",
        severity="error" if strict else "warning",
        file=file,
        line=find_line(text, path),
    )


def _include_list(
    document: dict[str, Any], display: str, text: str
) -> tuple[list[str], list[ConfigIssue]]:
    section = document.pop("include", None)
    if section is None:
        return [], []
    files = section.get("files", []) if isinstance(section, dict) else None
    if isinstance(files, list) and any(isinstance(f, str) and "\x00" in f for f in files):
        return [], [ConfigIssue(
            path="include.files", message="a file name cannot contain a NUL character",
            hint='e.g. [include] files = ["./network.toml"]', rule="type", file=display,
            line=find_line(text, "include.files") or find_line(text, "include"),
        )]
    if isinstance(files, list) and all(isinstance(f, str) and f for f in files):
        others = [k for k in section if k != "files"]
        issues = [
            ConfigIssue(
                path=f"include.{k}", message=f"unknown key 'include.{k}' (ignored)",
                hint="[include] takes only files = [...]", rule="unknown-key",
                severity="warning", file=display, line=find_line(text, f"include.{k}"),
            )
            for k in others
        ]
        return list(files), issues
    issue = ConfigIssue(
        path="include.files",
        message="must be a list of file names",
        hint='e.g. [include] files = ["./network.toml"]',
        rule="type",
        file=display,
        line=find_line(text, "include.files") or find_line(text, "include"),
    )
    return [], [issue]


class _FileTree:
    """Loads one top-level file and everything it includes, depth first."""

    def __init__(self, strict: bool, texts: dict[str, str] | None, given: str) -> None:
        self.strict = strict
        self.texts = texts
        self.given = given
        self.include_layers: list[Layer] = []

    def load(self, display: str, chain: tuple[str, ...], stack: tuple[str, ...]) -> Layer:
        named_by = chain[-2] if len(chain) > 1 else None
        text = read_text(display, named_by=named_by, given=self.given)
        if self.texts is not None:
            self.texts[display] = text
        document = parse_toml(text, display)
        includes, issues = _include_list(document, display, text)
        if includes and not stack:
            stack = (os.path.realpath(display),)  # resolved only when there is something to cycle
        here = os.path.dirname(display)
        for name in includes:
            child = os.path.normpath(os.path.join(here, name))
            key = os.path.realpath(child)
            if key in stack:
                start = stack.index(key)
                cycle = [*chain[start:], child]
                message = "include cycle: " + " -> ".join(cycle)
                issue = ConfigIssue(
                    path="include.files", message=message, rule="include-cycle",
                    hint="remove one of these includes", file=display,
                    line=find_line(text, "include.files"),
                )
                raise IncludeCycleError(message, [issue])
            layer = self.load(child, (*chain, child), (*stack, key))
            self.include_layers.append(layer)
        source = (
            Source("file", display) if len(chain) == 1 else Source("include", display, chain=chain)
        )
        origins, unknown = claim_known(document, source)
        issues.extend(unknown_key_issue(p, display, text, strict=self.strict) for p in unknown)
        return Layer(document, origins, issues)


def file_layers(
    path: str | os.PathLike[str], *, strict: bool = False, texts: dict[str, str] | None = None,
    given: str = GIVEN_WITH_CONFIG,
) -> tuple[list[Layer], Layer]:
    """The layers of one config file: (its includes, lowest first; the file itself).

    `texts`, when given, collects every file's text by display name, so the
    caller can find line numbers later without reading the files again.
    `given`: where the operator named the file (see `read_text`).
    """
    display = os.fspath(path)
    tree = _FileTree(strict, texts, given)
    top = tree.load(display, (display,), ())
    return tree.include_layers, top
