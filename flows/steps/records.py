"""The records the task's steps hand each other inside one worker: the version a task runs (init → work →
publish and the manifest) and what the work step made for the registry (work → publish).

They never leave the worker's process, so they are frozen dataclasses; what is stored (the manifest,
`flows.steps.manifest`; the dataset snapshot, `registry.snapshot_schema`) is a validated pydantic model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class ResourceRecord:
    """The resource version a task runs, as init read it from the registry (`Prepared.resource`)."""

    id: str
    name: str
    kind: str
    version: int
    digest: str
    reported_metrics: dict[str, Any] | None  # the figures the version's provider reported (None: none)
    execution: dict[str, Any] | None  # the version's execution spec (image, GPU); None for the default

    def reference(self) -> dict[str, Any]:
        """How outputs name the version they came from: ``{"name", "version", "digest"}``."""
        return {"name": self.name, "version": self.version, "digest": self.digest}

    def as_dict(self) -> dict[str, Any]:
        """Every field, in declaration order (the manifest's `resource` starts with these)."""
        return {
            "id": self.id,
            "name": self.name,
            "kind": self.kind,
            "version": self.version,
            "digest": self.digest,
            "reported_metrics": self.reported_metrics,
            "execution": self.execution,
        }


@dataclass(frozen=True)
class VersionProduct:
    """Weights the work step made (train, export to INT8, edit), which the publish step turns into a new version
    with lineage to the version the task ran."""

    weights: Path  # among the task's outputs (its sha256 and size are taken from the uploaded output)
    config: dict[str, Any]  # the new version's config
    reported_metrics: dict[str, Any]  # the figures the new version reports ({} for an edit)
    dataset: dict[str, Any] | None  # the dataset it was made on (`DatasetInput.describe()`); None for an edit
    split: dict[str, Any] | None  # how that dataset was divided; None for an edit
    publish_as: str | None  # the resource to publish into (None: a new version of the source)
    summary: dict[str, Any] = field(default_factory=dict)  # added to the task's result (train: best_epoch, warnings)


# One photo of a derived dataset: the file, its name, its label (None: unlabelled).
DerivedPhoto = tuple[Path, str, str | None]


@dataclass(frozen=True)
class DatasetProduct:
    """A derived dataset the work step made (augment), which the publish step stores as a new dataset."""

    name: str
    classes: list[str]
    photos: list[DerivedPhoto]
    source_id: str  # the dataset it was derived from
    source_name: str
    derivation: dict[str, Any]  # stored on the new dataset as is: task, method, source, operations, …


Product = VersionProduct | DatasetProduct
