"""The dataset snapshot as one typed record: what submit freezes, the object store keeps and the worker reads.

Snapshot JSON (``tasks/<task-id>/inputs/dataset.json``)::

    {"schema": "model-commons/dataset-snapshot/1", "id": str, "name": str, "digest": "sha256:…",
     "classes": [name, …],                     # in order; a model's output i is classes[i]
     "items": [{"id", "sha256", "extension", "size", "name", "label": name | null}, …]}  # sorted by sha256

The fields are declared in that order, so `to_json` writes the same keys in the same order as ever. A snapshot
read back (`from_json`) or handed over as a plain dict (`as_snapshot`) is validated; a malformed one is an
`InvalidInput` that says what is wrong, never a KeyError further on.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from commons.errors import InvalidInput

SNAPSHOT_SCHEMA: Final = "model-commons/dataset-snapshot/1"


class SnapshotRecord(BaseModel):
    """A frozen, strict record that also reads as a mapping (`record["name"]`), for callers written against the
    dicts these records replace."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)

    def __getitem__(self, key: str) -> Any:
        name = next((n for n, f in type(self).model_fields.items() if (f.alias or n) == key), None)
        if name is None:
            raise KeyError(key)
        return getattr(self, name)

    def as_dict(self) -> dict[str, Any]:
        """The record as the plain JSON-ready dict it is stored as."""
        return self.model_dump(mode="json", by_alias=True)


class SnapshotItem(SnapshotRecord):
    """One photo of the dataset as it was when the task was submitted."""

    id: str
    sha256: str
    extension: str
    size: int
    name: str
    label: str | None  # None: the photo was unlabelled


class DatasetSnapshot(SnapshotRecord):
    """A dataset frozen for one task: its ordered classes and every item, sorted by sha256."""

    schema_id: Literal["model-commons/dataset-snapshot/1"] = Field(default=SNAPSHOT_SCHEMA, alias="schema")
    id: str
    name: str
    digest: str
    classes: list[str]
    items: list[SnapshotItem]

    @property
    def labelled(self) -> list[SnapshotItem]:
        return [item for item in self.items if item.label is not None]

    @property
    def labelled_count(self) -> int:
        return len(self.labelled)

    @property
    def unlabelled_count(self) -> int:
        return len(self.items) - self.labelled_count

    def to_json(self) -> bytes:
        return json.dumps(self.as_dict(), indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes, *, task_id: str) -> DatasetSnapshot:
        """The snapshot stored for task `task_id`, validated."""
        try:
            raw = json.loads(data)
        except ValueError as error:
            raise InvalidInput(f"task {task_id}'s dataset snapshot is not JSON: {error}") from error
        schema = raw.get("schema") if isinstance(raw, dict) else None
        if schema != SNAPSHOT_SCHEMA:
            raise InvalidInput(f"task {task_id}'s dataset snapshot has an unknown schema {schema!r}")
        return as_snapshot(raw, what=f"task {task_id}'s dataset snapshot")


def as_snapshot(value: DatasetSnapshot | Mapping[str, Any], *, what: str = "the dataset snapshot") -> DatasetSnapshot:
    """`value` as a validated snapshot (a plain dict is checked against the schema)."""
    if isinstance(value, DatasetSnapshot):
        return value
    try:
        return DatasetSnapshot.model_validate(dict(value))
    except ValidationError as error:
        raise InvalidInput(f"{what} is malformed: {_first_problem(error)}") from error


def _first_problem(error: ValidationError) -> str:
    problems = error.errors(include_url=False)
    first = problems[0]
    where = ".".join(str(part) for part in first["loc"]) or "(top level)"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{where}: {first['msg']}{more}"
