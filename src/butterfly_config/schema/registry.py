"""Every leaf option of the schema, by dotted path, read from the models themselves.

The registry is derived from the pydantic fields and their `option(...)`
metadata, never kept as a second table, so it cannot drift from the models.
A leaf is a field whose type is not a section model: scalars, lists and the
free-form tables (`observability.logging.filters`, `partition.model_hints`,
`cluster.members`).
"""

from __future__ import annotations

import copy
import difflib
import types
import typing
from collections.abc import Iterator, Mapping
from functools import cache
from types import MappingProxyType
from typing import Any, cast

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from .base import Section
from .options import OptionInfo
from .root import ConfigModel


def _section_model(field: FieldInfo) -> type[Section] | None:
    annotation = field.annotation
    if isinstance(annotation, type) and issubclass(annotation, Section):
        return annotation
    return None


_Field = tuple[str, FieldInfo, "type[Section] | None"]


def _walk(model: type[BaseModel], prefix: str) -> Iterator[_Field]:
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        sub = _section_model(field)
        yield path, field, sub
        if sub is not None:
            yield from _walk(sub, f"{path}.")


def _default_of(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return cast(Any, field.default_factory)()
    return field.default


def _choices(annotation: Any) -> tuple[Any, ...]:
    """The values of a Literal annotation (also inside Optional / Annotated), else ()."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return args
    if origin is typing.Annotated:
        return _choices(args[0])
    if origin is typing.Union or origin is types.UnionType:
        for arg in args:
            found = _choices(arg)
            if found:
                return found
    return ()


def _info(path: str, field: FieldInfo) -> OptionInfo:
    extra = field.json_schema_extra
    if not isinstance(extra, dict) or "x-scope" not in extra:
        raise TypeError(f"schema leaf {path} is not declared with option(...)")
    return OptionInfo(
        path=path,
        annotation=field.annotation,
        default=_default_of(field),
        scope=cast(Any, extra["x-scope"]),
        mutability=cast(Any, extra["x-mutability"]),
        description=field.description or "",
        unit=cast("str | None", extra.get("x-unit")),
        secret=bool(extra.get("x-secret", False)),
        example=extra.get("x-example"),
        choices=_choices(field.annotation),
    )


@cache
def _tables() -> tuple[Mapping[str, OptionInfo], Mapping[str, str]]:
    leaves: dict[str, OptionInfo] = {}
    sections: dict[str, str] = {}
    for path, field, sub in _walk(ConfigModel, ""):
        if sub is not None:
            sections[path] = " ".join((sub.__doc__ or "").split())
        else:
            leaves[path] = _info(path, field)
    return MappingProxyType(leaves), MappingProxyType(sections)


def options() -> Mapping[str, OptionInfo]:
    """Every leaf option by dotted path, in reference-file order (read-only, cached)."""
    return _tables()[0]


def option_info(path: str) -> OptionInfo | None:
    """The leaf at `path`, or None when there is none (a section or an unknown key)."""
    return _tables()[0].get(path)


def is_section(path: str) -> bool:
    """True for a table of the schema, e.g. "network" or "network.connection"."""
    return path in _tables()[1]


def section_paths() -> tuple[str, ...]:
    """Every table of the schema by dotted path, parents before children, in file order."""
    return tuple(_tables()[1])


def section_description(path: str) -> str:
    """What the table at `path` is for (its model's docstring); "" if there is no such table."""
    return _tables()[1].get(path, "")


@cache
def _all_paths() -> tuple[str, ...]:
    return (*options(), *section_paths())


def suggest(path: str) -> str | None:
    """The closest known option or section to a misspelt `path` ("did you mean"), if any."""
    candidates = _all_paths()
    matches = difflib.get_close_matches(path, candidates, n=1, cutoff=0.75)
    if matches:
        return matches[0]
    # A misspelt last part under a known parent: compare only the names there.
    parent, _, name = path.rpartition(".")
    siblings = [p.rpartition(".")[2] for p in candidates if p.rpartition(".")[0] == parent]
    close = difflib.get_close_matches(name, siblings, n=1, cutoff=0.6)
    if close:
        return f"{parent}.{close[0]}" if parent else close[0]
    return None


@cache
def _default_document() -> dict[str, Any]:
    return ConfigModel().model_dump(mode="json", exclude_none=True)


def default_document() -> dict[str, Any]:
    """Every default as a nested, JSON-compatible dict; unset options are left out.

    Returns a fresh copy: callers may change it.
    """
    return copy.deepcopy(_default_document())
