"""Option metadata: every leaf of the schema says its scope, mutability, description, unit.

Section models declare leaves with `option(...)`, which is a pydantic `Field`
carrying the metadata in `json_schema_extra`; `OptionInfo` is the read side.
The four categories are scope x mutability (DESIGN 1.2).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field

Scope = Literal["cluster", "node"]
Mutability = Literal["static", "dynamic"]
Category = Literal["static-critical", "static-local", "dynamic-consensus", "dynamic-local"]

_CATEGORY: dict[tuple[str, str], Category] = {
    ("cluster", "static"): "static-critical",
    ("node", "static"): "static-local",
    ("cluster", "dynamic"): "dynamic-consensus",
    ("node", "dynamic"): "dynamic-local",
}


def category_of(scope: Scope, mutability: Mutability) -> Category:
    return _CATEGORY[(scope, mutability)]


def option(
    default: Any = ...,
    *,
    scope: Scope,
    mutability: Mutability,
    description: str,
    unit: str | None = None,
    secret: bool = False,
    example: Any = None,
    default_factory: Any = None,
    **constraints: Any,
) -> Any:
    """A schema leaf: a pydantic Field plus Butterfly's metadata (scope, mutability, unit...).

    `example` is shown (commented out) in the generated template for options
    whose default is unset, so the operator sees what a value looks like.
    """
    extra: dict[str, Any] = {
        "x-scope": scope,
        "x-mutability": mutability,
        "x-category": category_of(scope, mutability),
    }
    if unit is not None:
        extra["x-unit"] = unit
    if secret:
        extra["x-secret"] = True
    if example is not None:
        extra["x-example"] = example
    if default_factory is not None:
        return Field(
            default_factory=default_factory,
            description=description,
            json_schema_extra=extra,
            **constraints,
        )
    return Field(default, description=description, json_schema_extra=extra, **constraints)


@dataclass(frozen=True, slots=True)
class OptionInfo:
    """Everything known about one leaf option, keyed by its dotted path."""

    path: str
    annotation: Any
    default: Any
    scope: Scope
    mutability: Mutability
    description: str
    unit: str | None = None
    secret: bool = False
    example: Any = None
    """A sample value for options whose default is unset (None otherwise)."""
    choices: tuple[Any, ...] = ()
    """The allowed values when the option is an enumeration, else empty."""

    @property
    def type_label(self) -> str:
        """The type as an operator reads it, e.g. "integer >= 1" or "host:port address".

        Read from the JSON Schema, which is built on first use only: the load
        path never needs it, `explain` and the generated docs do.
        """
        from .jsonschema import leaf_type_label

        return leaf_type_label(self.path)

    @property
    def category(self) -> Category:
        return category_of(self.scope, self.mutability)

    @property
    def section(self) -> str:
        return self.path.split(".", 1)[0]
