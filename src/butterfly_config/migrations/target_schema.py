"""The current schema as migrations see it: which paths are options, in what order.

Imported lazily by the steps so that the step tables stay plain data.
"""

from __future__ import annotations

from functools import cache

from butterfly_config.schema import registry


@cache
def _order() -> dict[str, int]:
    return {path: index for index, path in enumerate(registry.options())}


def is_option(path: str) -> bool:
    """True when `path` is a leaf option of the current schema."""
    return path in _order()


def option_rank(path: str) -> tuple[int, str]:
    """Sort key that follows the schema's (reference file's) order; unknown paths go last."""
    return (_order().get(path, len(_order())), path)


def suggest(path: str) -> str | None:
    """The closest option name, for "did you mean" hints."""
    return registry.suggest(path)
