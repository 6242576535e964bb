"""The lowest layer: every option's default, straight from the schema."""

from __future__ import annotations

from functools import cache
from typing import Any

from butterfly_config.schema import registry

from .layer import Layer


@cache
def _default_values() -> dict[str, Any]:
    return registry.default_document()


def defaults_layer() -> Layer:
    """Defaults as values; their origin is implied (a leaf no other layer set is a default).

    The values are shared between loads and must be treated as read-only (the
    merge never changes its inputs). Origins stay empty on purpose: 260
    entries per load would only say "default", which
    `ButterflyConfig.provenance` answers for any leaf without an origin.
    """
    return Layer(values=_default_values())
