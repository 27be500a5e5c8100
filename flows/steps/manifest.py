"""The task manifest (``tasks/<id>/manifest.json``, schema ``model-commons/manifest/1``) as one typed record:
everything needed to re-run the task and check its result.

The publish step builds it (`flows.steps.publish.build_manifest`) and stores it last; a reproduction reads its
original's back (`load_manifest`), validated. Fields are declared in the order they are written, so the JSON
keeps its keys and values; the fields added after the first manifests were written have defaults, so those
still read.
"""

from __future__ import annotations

import json
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from commons.errors import InvalidInput
from commons.store import ObjectStore

MANIFEST_SCHEMA: Final = "model-commons/manifest/1"


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, populate_by_name=True)


class ManifestTask(_Record):
    id: str
    mode: str
    submitted_by: str
    flow_run_id: str | None  # the Prefect run executing the task: a flow run (batch lane)
    task_run_id: str | None = None  # or a task run (warm lane)
    published_at: str  # ISO 8601, UTC


class ManifestFile(_Record):
    """One weights file of the version, as fetched through the content cache."""

    name: str
    sha256: str
    size: int
    cache: Literal["hit", "miss"]


class ManifestResource(_Record):
    """The version the task ran (`flows.steps.records.ResourceRecord`), its config and its files."""

    id: str
    name: str
    kind: str
    version: int
    digest: str
    reported_metrics: dict[str, Any] | None = None
    execution: dict[str, Any] | None = None
    config: dict[str, Any]
    files: list[ManifestFile]


class ManifestInput(_Record):
    """One uploaded photo the task read, and the folder its outputs went to."""

    upload_id: str
    name: str
    output_folder: str
    sha256: str
    size: int
    cache: Literal["hit", "miss"]


class ManifestDataset(_Record):
    """The dataset snapshot the task read."""

    id: str
    name: str
    digest: str
    labelled_items: int


class ManifestOutput(_Record):
    name: str
    key: str
    size: int
    sha256: str
    content_type: str


class Manifest(_Record):
    schema_id: Literal["model-commons/manifest/1"] = Field(default=MANIFEST_SCHEMA, alias="schema")
    task: ManifestTask
    resource: ManifestResource | None  # None: a task on a dataset alone (augment) runs no version
    params: dict[str, Any]
    seed: int
    inputs: list[ManifestInput]
    dataset: ManifestDataset | None = None
    reproduces: str | None = None  # the task this one re-ran
    result: dict[str, Any] | None = None  # what the publish step made: a version or a dataset
    outputs: list[ManifestOutput]
    environment: dict[str, Any]  # `flows.steps.environment.describe_environment`, with `device_note`
    timings: dict[str, Any]
    steps: list[dict[str, Any]]

    @property
    def device(self) -> str | None:
        """The device the task ran on."""
        device = self.environment.get("device")
        return device if isinstance(device, str) else None

    @property
    def embedding(self) -> Literal["hit", "miss"] | None:
        """A SAM prompt task's image embeddings: "hit" when every photo's was found (`timings.embedding_source`:
        "memory" or "store"), "miss" when the encoder ran; None for any other task (flows/steps/embedding_cache.py,
        recorded under `timings` as `model_cache` is)."""
        found = self.timings.get("embedding")
        if found == "hit" or found == "miss":
            return found
        return None

    def to_json(self) -> bytes:
        return json.dumps(self.model_dump(by_alias=True), indent=2).encode()


def load_manifest(*, store: ObjectStore, key: str) -> Manifest:
    """The manifest stored at `key`, validated; InvalidInput says what is wrong with a malformed one."""
    data = store.get_bytes(key)
    try:
        raw = json.loads(data)
    except ValueError as error:
        raise InvalidInput(f"the manifest {key} is not JSON: {error}") from error
    schema = raw.get("schema") if isinstance(raw, dict) else None
    if schema != MANIFEST_SCHEMA:
        raise InvalidInput(f"the manifest {key} has an unknown schema {schema!r}")
    try:
        return Manifest.model_validate(raw)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"])
        raise InvalidInput(f"the manifest {key} is malformed: {where}: {first['msg']}") from error
