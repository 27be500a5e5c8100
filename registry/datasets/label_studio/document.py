"""Label Studio's JSON export, read within limits: a list of tasks, each with `data.image` (a data URL, or a path
such as `/data/upload/1/ab12cd-cat.png` whose base name is a file of the import's zip) and `annotations[]` whose
`result[]` regions of type `choices` name the photo's class. Predictions and cancelled annotations are not read."""

from __future__ import annotations

import json
import posixpath
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import unquote

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from commons.errors import InvalidInput, TooLarge
from commons.strict_json import JsonRefused, loads
from registry.dataset_schemas import check_class_name

EXPORT_FILE: Final = "export.json"
IMAGE_KEY: Final = "image"
MAX_DOCUMENT_BYTES: Final = 32 * 1024 * 1024  # export.json in a zip (as COCO's annotations.json)
MAX_JSON_BYTES: Final = 64 * 1024 * 1024  # an export sent alone, its photos as data URLs (more: send a zip)
MAX_TASKS: Final = 100_000
MAX_CLASSES: Final = 1000  # as `DatasetCreate.classes`
MAX_REFERENCE: Final = 4096  # characters of an image path (data URLs are bounded by the document)


class LabelStudioResult(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str = Field(default="", max_length=64)
    value: dict[str, Any] = Field(default_factory=dict)


class LabelStudioAnnotation(BaseModel):
    model_config = ConfigDict(extra="allow")
    was_cancelled: bool = False
    result: list[LabelStudioResult] = Field(default_factory=list, max_length=10_000)


class LabelStudioTask(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int | str | None = None
    data: dict[str, Any]
    annotations: list[LabelStudioAnnotation] = Field(default_factory=list, max_length=1000)


@dataclass(frozen=True)
class ExportTask:
    """One task as the import needs it: where its photo is, and its choices (distinct, in order)."""

    id: str
    image: str  # a data URL, or a path whose base name names a zip entry
    choices: tuple[str, ...]

    @property
    def data_url(self) -> bool:
        return self.image[:5].lower() == "data:"

    @property
    def base_name(self) -> str:
        return unquote(posixpath.basename(self.image.split("?", 1)[0]))


def _load(data: bytes, *, name: str, limit: int) -> Any:
    if len(data) > limit:
        raise TooLarge(f"{name} is {len(data)} bytes, more than the limit of {limit}; split the export")
    try:
        return loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError, JsonRefused) as error:
        raise InvalidInput(
            f"{name} is not acceptable JSON ({error}); send Label Studio's JSON export", field="file"
        ) from error


def parse_export(data: bytes, *, name: str, limit: int) -> list[ExportTask]:
    """The export's tasks, checked: a list of tasks with `data.image` and choices usable as class names."""
    raw = _load(data, name=name, limit=limit)
    if not isinstance(raw, list) or len(raw) > MAX_TASKS:
        raise InvalidInput(
            f"{name} is not Label Studio's JSON export: it is a list of at most {MAX_TASKS} tasks "
            "(Export → JSON, not JSON-MIN or CSV)",
            field="file",
        )
    tasks = [_task(index, value, name=name) for index, value in enumerate(raw)]
    if not tasks:
        raise InvalidInput(f"{name} lists no task; export a project that has some", field="file")
    classes = {choice for task in tasks for choice in task.choices}
    if len(classes) > MAX_CLASSES:
        raise TooLarge(f"{name} names {len(classes)} classes, more than the limit of {MAX_CLASSES}")
    return tasks


def _task(index: int, value: Any, *, name: str) -> ExportTask:
    where = f"{name}: task {index}"
    try:
        task = LabelStudioTask.model_validate(value)
    except ValidationError as error:
        first = error.errors()[0]
        at = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(
            f"{where}: {at or 'the task'}: {first['msg']}; a task is {{data: {{image: …}}, annotations: [...]}}",
            field="file",
        ) from error
    image = task.data.get(IMAGE_KEY)
    if not isinstance(image, str) or not image.strip():
        raise InvalidInput(f"{where} has no data.{IMAGE_KEY}: the import reads image tasks only", field="file")
    if not image[:5].lower() == "data:" and len(image) > MAX_REFERENCE:
        raise InvalidInput(f"{where}: data.{IMAGE_KEY} is longer than {MAX_REFERENCE} characters", field="file")
    label = where if task.id is None else f"{name}: task {task.id}"
    choices = _choices(task, where=label)
    return ExportTask(id=str(task.id if task.id is not None else index), image=image, choices=choices)


def _choices(task: LabelStudioTask, *, where: str) -> tuple[str, ...]:
    found: dict[str, None] = {}
    for annotation in task.annotations:
        if annotation.was_cancelled:
            continue
        for result in annotation.result:
            if result.type != "choices":
                continue
            chosen = result.value.get("choices")
            if not isinstance(chosen, list) or not all(isinstance(choice, str) for choice in chosen):
                raise InvalidInput(f"{where}: a choices result's value.choices is not a list of names", field="file")
            for choice in chosen:
                try:
                    found[check_class_name(choice)] = None
                except ValueError as error:
                    raise InvalidInput(
                        f"{where}: choice {choice!r} cannot be a class: {error}", field="file"
                    ) from error
    return tuple(found)
