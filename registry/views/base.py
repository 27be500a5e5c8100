"""The one way a view is built: the schema validates the row, with computed fields laid over it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel

V = TypeVar("V", bound=BaseModel)


class _Overlay:
    """`row` as the schema's `from_attributes` validation reads it: `computed` first, then the row's attributes."""

    def __init__(self, row: object, computed: dict[str, Any]) -> None:
        self._row = row
        self._computed = computed

    def __getattr__(self, name: str) -> Any:
        computed = self.__dict__["_computed"]
        if name in computed:
            return computed[name]
        return getattr(self.__dict__["_row"], name)


def view(schema: type[V], row: object, **computed: Any) -> V:
    """`row` shown as `schema`: the schema's own validation (`from_attributes`) reads the fields the row holds
    under the same name and meaning; `computed` gives the others (and any the row holds otherwise than shown).
    `row` is a table row, or a JSON record kept in one (a dict: its keys are read instead)."""
    if isinstance(row, Mapping):
        return schema.model_validate({**row, **computed})
    return schema.model_validate(_Overlay(row, computed) if computed else row, from_attributes=True)
