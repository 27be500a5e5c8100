"""The init step's work: re-check the right, fetch weights and inputs into the cache, seed, describe."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlmodel import Session

from commons.db import session_scope
from commons.errors import Conflict, NotFound
from commons.settings import Settings
from commons.store import ObjectStore, keys
from flows.steps.cache import CachedFile, ContentCache
from flows.steps.environment import check_device_fits, describe_environment, seed_everything
from flows.steps.records import Product, ResourceRecord
from flows.steps.reproduction import Original, load_original
from registry import tasks as task_rows
from registry.dataset_snapshots import load_snapshot
from registry.models import Dataset, Resource, ResourceVersion, Task, Upload, User
from registry.rights import dataset_for, require
from registry.versions import file_key

SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")
DATASET_KIND = "dataset"  # `Prepared.kind` of a task on a dataset alone (no resource version)


def work_folder(settings: Settings, task_id: str) -> Path:
    """The task's local work folder (its outputs go under `outputs/`)."""
    return settings.data_dir.resolve() / "work" / task_id


class Stopwatch:
    """Seconds since it was made, rounded as every timing in a manifest is (4 places)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 4)


@dataclass(frozen=True)
class InputFile:
    upload_id: str
    name: str
    stem: str
    file: CachedFile


@dataclass(frozen=True)
class DatasetFile:
    """One labelled photo of the task's dataset snapshot, fetched into the local cache."""

    item_id: str
    name: str
    label: str | None  # None only for the unlabelled photos a dataset-only task (augment) reads
    file: CachedFile


@dataclass(frozen=True)
class DatasetInput:
    """The dataset snapshot a train or evaluate task works on; `items` are the labelled photos in
    snapshot order (sorted by sha256), the order every split and report uses."""

    id: str
    name: str
    digest: str
    classes: list[str]
    items: list[DatasetFile]
    unlabelled: int

    def describe(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "digest": self.digest}


@dataclass
class Prepared:
    """Everything the work step needs, as local paths and plain values."""

    task_id: str
    mode: str
    kind: str
    resource: ResourceRecord | None  # the version the task runs; None for a task on a dataset alone (augment)
    config: dict[str, Any]
    params: dict[str, Any]
    seed: int
    device: str
    weights: dict[str, CachedFile]
    inputs: list[InputFile]
    environment: dict[str, Any]
    work_dir: Path
    submitted_by: str
    flow_run_id: str | None  # the Prefect run executing the task: a flow run (batch lane)
    task_run_id: str | None  # or a task run (warm lane)
    dataset: DatasetInput | None = None
    original: Original | None = None
    timings: dict[str, Any] = field(default_factory=dict)
    # What the work step made for the registry (train, export, edit: weights; augment: a dataset); the publish
    # step turns it into a new version or a new dataset.
    product: Product | None = None

    @property
    def outputs(self) -> Path:
        """The folder whose files the publish step uploads (not created here)."""
        return self.work_dir / "outputs"

    @property
    def version_record(self) -> ResourceRecord:
        """The version the task runs; Conflict for a task on a dataset alone (augment), which runs none."""
        if self.resource is None:
            raise Conflict(f"task {self.task_id} runs on a dataset alone: it has no version")
        return self.resource

    def reference(self) -> dict[str, Any]:
        """The version the task ran, as outputs name it: {"name", "version", "digest"}."""
        return self.version_record.reference()

    @contextmanager
    def timed(self, step: str) -> Iterator[None]:
        """Record the seconds the block takes as `timings["<step>_s"]` (nothing when it raises)."""
        watch = Stopwatch()
        yield
        self.timings[f"{step}_s"] = watch.seconds()


def output_stem(name: str, taken: set[str]) -> str:
    """A folder name for one input's outputs, chosen by code from the upload's name (never a path)."""
    base = SAFE_STEM.sub("-", Path(name).stem).strip("-")[:64] or "image"
    stem, counter = base, 2
    while stem in taken:
        stem, counter = f"{base}-{counter}", counter + 1
    taken.add(stem)
    return stem


@dataclass(frozen=True)
class _TaskRecord:
    """What init reads of the task and its version in one session (rows stay usable after it)."""

    task: Task
    resource: ResourceRecord | None
    files: list[dict[str, Any]]
    config: dict[str, Any]
    version_execution: dict[str, Any] | None
    uploads: list[Upload | None]
    submitted_by: str
    original_task: Task | None


def prepare(*, settings: Settings, store: ObjectStore, task_id: str, device: str) -> Prepared:
    record = _read_task(settings, task_id)
    task = record.task
    cache = ContentCache(settings.cache_dir)
    weights = _fetch_weights(store=store, cache=cache, resource=record.resource, files=record.files)
    inputs = _fetch_inputs(store=store, cache=cache, upload_ids=task.inputs, uploads=record.uploads)
    dataset_input = (
        fetch_dataset(store=store, cache=cache, task_id=task_id, unlabelled=task.version_id is None)
        if task.dataset_id is not None
        else None
    )
    original = load_original(store=store, task=record.original_task) if record.original_task is not None else None
    params = dict(task.params)
    seed = int(params.get("seed", 0))
    seed_everything(seed)
    return Prepared(
        task_id=task_id,
        mode=task.mode,
        kind=record.resource.kind if record.resource else DATASET_KIND,
        resource=record.resource,
        config=record.config,
        params=params,
        seed=seed,
        device=device,
        weights=weights,
        inputs=inputs,
        environment={
            **describe_environment(device),
            "device_note": check_device_fits(record.version_execution, device),
        },
        work_dir=work_folder(settings, task_id),
        submitted_by=record.submitted_by,
        flow_run_id=task.flow_run_id,
        task_run_id=task.task_run_id,
        dataset=dataset_input,
        original=original,
    )


def _read_task(settings: Settings, task_id: str) -> _TaskRecord:
    """The task, its version and uploads, with the owner's rights on the resource and the dataset checked
    again (they may have been revoked since submit)."""
    with session_scope(settings.resolved_database_url) as session:
        task = task_rows.get_task(session, task_id)
        owner = session.get(User, task.owner_id)
        if owner is None:
            raise NotFound("the task's user no longer exists")
        resource_info: ResourceRecord | None = None
        files: list[dict[str, Any]] = []
        config: dict[str, Any] = {}
        version_execution: dict[str, Any] | None = None
        if task.version_id is not None:  # dataset-only tasks (augment) run no version
            resource, version = _resource_and_version(session, task=task, owner=owner)
            resource_info = _describe_version(resource, version)
            files = list(version.files)
            version_execution = version.execution
            config = dict(version.config)
        uploads = [session.get(Upload, upload_id) for upload_id in task.inputs]
        original_task = task_rows.get_task(session, task.reproduces_id) if task.reproduces_id else None
        if task.dataset_id is not None:
            _check_dataset(session, dataset_id=task.dataset_id, owner=owner)
        return _TaskRecord(
            task=task,
            resource=resource_info,
            files=files,
            config=config,
            version_execution=version_execution,
            uploads=uploads,
            submitted_by=owner.username,
            original_task=original_task,
        )


def _resource_and_version(session: Session, *, task: Task, owner: User) -> tuple[Resource, ResourceVersion]:
    resource = session.get(Resource, task.resource_id)
    version = session.get(ResourceVersion, task.version_id)
    if resource is None or version is None:
        raise NotFound("the task's resource or version no longer exists")
    require(session, resource, owner, need="use")  # the right may have been revoked since submit
    return resource, version


def _describe_version(resource: Resource, version: ResourceVersion) -> ResourceRecord:
    return ResourceRecord(
        id=resource.id,
        name=resource.name,
        kind=resource.kind,
        version=version.number,
        digest=version.digest,
        reported_metrics=version.reported_metrics,
        execution=version.execution,
    )


def _check_dataset(session: Session, *, dataset_id: str, owner: User) -> None:
    dataset = session.get(Dataset, dataset_id)
    if dataset is None:
        raise NotFound(f"the task's dataset {dataset_id} no longer exists")
    dataset_for(session, dataset_id=dataset_id, user=owner, need="use")  # the right may have been revoked


def _fetch_weights(
    *, store: ObjectStore, cache: ContentCache, resource: ResourceRecord | None, files: list[dict[str, Any]]
) -> dict[str, CachedFile]:
    if resource is None:  # a task on a dataset alone has no weights
        return {}
    return {
        f["name"]: cache.fetch(
            store=store,
            key=file_key(resource.id, resource.version, f),
            name=f["name"],
            sha256=f["sha256"],
            size=f["size"],
        )
        for f in files
    }


def _fetch_inputs(
    *, store: ObjectStore, cache: ContentCache, upload_ids: list[str], uploads: list[Upload | None]
) -> list[InputFile]:
    taken: set[str] = set()
    inputs = []
    for upload_id, upload in zip(upload_ids, uploads, strict=True):
        if upload is None:
            raise NotFound(f"input upload {upload_id} no longer exists")
        cached = cache.fetch(
            store=store,
            key=keys.upload(upload.id),
            name="input",
            sha256=upload.sha256,
            size=upload.size,
        )
        inputs.append(
            InputFile(upload_id=upload.id, name=upload.name, stem=output_stem(upload.name, taken), file=cached)
        )
    return inputs


def fetch_dataset(*, store: ObjectStore, cache: ContentCache, task_id: str, unlabelled: bool = False) -> DatasetInput:
    """The task's dataset snapshot with every labelled photo (and with `unlabelled`, every photo: their
    `label` is None) fetched and sha256-checked into the cache."""
    snapshot = load_snapshot(store=store, task_id=task_id)
    items = []
    for item in snapshot.items:
        if item.label is None and not unlabelled:
            continue
        key = keys.dataset_item(snapshot.id, item.sha256, item.extension)
        if not store.exists(key):
            raise NotFound(
                f"photo {item.name} ({item.sha256[:12]}…) of dataset {snapshot.name!r} is no longer stored: "
                "it was deleted from the dataset after this task was submitted"
            )
        cached = cache.fetch(store=store, key=key, name=f"item.{item.extension}", sha256=item.sha256, size=item.size)
        items.append(DatasetFile(item_id=item.id, name=item.name, label=item.label, file=cached))
    return DatasetInput(
        id=snapshot.id,
        name=snapshot.name,
        digest=snapshot.digest,
        classes=list(snapshot.classes),
        items=items,
        unlabelled=snapshot.unlabelled_count,
    )
