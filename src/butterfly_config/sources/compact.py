"""Keep many configurations in memory cheaply.

Two things dominate a loaded configuration's size: pydantic's per-instance
`__pydantic_fields_set__` (one set per section, about half of a model) and a
dict of origins per leaf. Equal field sets are shared here as read-only sets
(copies are ordinary sets, so pydantic's `model_copy` still works), and
origins are kept as a tuple aligned with the registry's leaf order.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any, NoReturn

from pydantic import BaseModel

from butterfly_config.schema import registry

from .layer import Source


class SharedFieldSet(set[str]):
    """A field set shared by equal model instances: reading is free, changing it is refused."""

    def __copy__(self) -> set[str]:
        return set(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> set[str]:
        return set(self)

    def __reduce__(self) -> tuple[type[set[str]], tuple[list[str]]]:
        return set, (list(self),)

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("this field set is shared between configurations and cannot change")

    add = discard = remove = pop = clear = _refuse
    update = difference_update = intersection_update = _refuse
    symmetric_difference_update = _refuse
    __ior__ = __iand__ = __isub__ = __ixor__ = _refuse


_SHARED: dict[frozenset[str], SharedFieldSet] = {}
_LAST: dict[type[BaseModel], SharedFieldSet] = {}
"""The set a class used last: usually equal to the next one (same file loaded again)."""


@cache
def _sub_models(cls: type[BaseModel]) -> tuple[str, ...]:
    """Names of the fields of `cls` that hold a single sub-model (the sections)."""
    return tuple(
        name for name, field in cls.model_fields.items()
        if isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)
    )


def share_field_sets(model: BaseModel) -> None:
    """Replace the field sets of `model` and its sections with shared read-only ones."""
    cls = type(model)
    fields = model.__pydantic_fields_set__
    if type(fields) is SharedFieldSet:
        return  # shared here before, sections included (they are frozen)
    shared = _LAST.get(cls)
    if shared is None or shared != fields:
        key = frozenset(fields)
        shared = _SHARED.get(key)
        if shared is None:
            shared = _SHARED[key] = SharedFieldSet(key)
        _LAST[cls] = shared
    object.__setattr__(model, "__pydantic_fields_set__", shared)
    values = model.__dict__
    for name in _sub_models(cls):
        share_field_sets(values[name])


@cache
def _leaf_order() -> tuple[tuple[str, ...], dict[str, int]]:
    paths = tuple(registry.options())
    return paths, {path: i for i, path in enumerate(paths)}


PackedOrigins = tuple[Source | None, ...]
"""Origins of every leaf in registry order, None where the value is a default."""


def pack_origins(origins: Mapping[str, Source]) -> PackedOrigins:
    """Origins of leaves as a tuple in registry order (None = default); others are dropped."""
    paths, _ = _leaf_order()
    return tuple(map(origins.get, paths))


def overlay_origins(packed: PackedOrigins, changes: Mapping[str, Source]) -> PackedOrigins:
    """`packed` with the origins of `changes` laid over it (leaves only; others dropped).

    A build changes a few options of a configuration: this copies the parent's
    tuple instead of unpacking and packing every leaf again.
    """
    index = _leaf_order()[1]
    overlaid = list(packed)
    for path, source in changes.items():
        position = index.get(path)
        if position is not None:
            overlaid[position] = source
    return tuple(overlaid)


def unpack_origins(packed: PackedOrigins) -> dict[str, Source]:
    paths, _ = _leaf_order()
    return {path: source for path, source in zip(paths, packed, strict=True) if source is not None}


def packed_origin(packed: PackedOrigins, path: str) -> Source | None:
    index = _leaf_order()[1].get(path)
    return None if index is None else packed[index]
