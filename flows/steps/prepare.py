"""The init step's work: re-check the right, fetch weights and inputs into the cache, seed, describe."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from commons.db import session_scope
from commons.errors import NotFound
from commons.settings import Settings
from commons.store import ObjectStore, keys
from flows.steps.cache import CachedFile, ContentCache
from flows.steps.environment import check_device_fits, describe_environment, seed_everything
from flows.steps.reproduction import Original, load_original
from registry import tasks as task_rows
from registry.dataset_permissions import dataset_for
from registry.dataset_snapshots import load_snapshot
from registry.models import Dataset, Resource, ResourceVersion, Upload, User
from registry.permissions import require
from registry.versions import file_key

SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")
DATASET_KIND = "dataset"  # `Prepared.kind` of a task on a dataset alone (no resource version)


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
    resource: dict[str, Any]
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
    # What the work step made for the registry (train: {"weights": Path, "config": dict, "reported_metrics",
    # "split"}); the publish step turns it into a new version.
    product: dict[str, Any] | None = None


def output_stem(name: str, taken: set[str]) -> str:
    """A folder name for one input's outputs, chosen by code from the upload's name (never a path)."""
    base = SAFE_STEM.sub("-", Path(name).stem).strip("-")[:64] or "image"
    stem, counter = base, 2
    while stem in taken:
        stem, counter = f"{base}-{counter}", counter + 1
    taken.add(stem)
    return stem


def prepare(*, settings: Settings, store: ObjectStore, task_id: str, device: str) -> Prepared:
    with session_scope(settings.resolved_database_url) as session:
        task = task_rows.get_task(session, task_id)
        owner = session.get(User, task.owner_id)
        if owner is None:
            raise NotFound("the task's user no longer exists")
        resource_info: dict[str, Any] = {"kind": DATASET_KIND}
        files: list[dict[str, Any]] = []
        config: dict[str, Any] = {}
        version_execution: dict[str, Any] | None = None
        if task.version_id is not None:  # dataset-only tasks (augment) run no version
            resource = session.get(Resource, task.resource_id)
            version = session.get(ResourceVersion, task.version_id)
            if resource is None or version is None:
                raise NotFound("the task's resource or version no longer exists")
            require(session, resource, owner, need="use")  # the right may have been revoked since submit
            resource_info = {
                "id": resource.id,
                "name": resource.name,
                "kind": resource.kind,
                "version": version.number,
                "digest": version.digest,
                "reported_metrics": version.reported_metrics,
                "execution": version.execution,
            }
            files = list(version.files)
            version_execution = version.execution
            config = dict(version.config)
        uploads = [session.get(Upload, upload_id) for upload_id in task.inputs]
        params, mode = dict(task.params), task.mode
        submitted_by, flow_run_id, task_run_id = owner.username, task.flow_run_id, task.task_run_id
        dataset_id, reproduces_id = task.dataset_id, task.reproduces_id
        original_task = task_rows.get_task(session, reproduces_id) if reproduces_id else None
        if dataset_id is not None:
            dataset = session.get(Dataset, dataset_id)
            if dataset is None:
                raise NotFound(f"the task's dataset {dataset_id} no longer exists")
            dataset_for(session, dataset_id=dataset_id, user=owner, need="use")  # the right may have been revoked
    cache = ContentCache(settings.cache_dir)
    weights = {
        f["name"]: cache.fetch(
            store=store,
            key=file_key(resource_info["id"], resource_info["version"], f),
            name=f["name"],
            sha256=f["sha256"],
            size=f["size"],
        )
        for f in files
    }
    taken: set[str] = set()
    inputs = []
    for upload_id, upload in zip(task.inputs, uploads, strict=True):
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
    dataset_input = (
        fetch_dataset(store=store, cache=cache, task_id=task_id, unlabelled=mode in task_rows.DATASET_ONLY_MODES)
        if dataset_id is not None
        else None
    )
    original = load_original(store=store, task=original_task) if original_task is not None else None
    seed = int(params.get("seed", 0))
    seed_everything(seed)
    return Prepared(
        task_id=task_id,
        mode=mode,
        kind=resource_info["kind"],
        resource=resource_info,
        config=config,
        params=params,
        seed=seed,
        device=device,
        weights=weights,
        inputs=inputs,
        environment={**describe_environment(device), "device_note": check_device_fits(version_execution, device)},
        work_dir=settings.data_dir.resolve() / "work" / task_id,
        submitted_by=submitted_by,
        flow_run_id=flow_run_id,
        task_run_id=task_run_id,
        dataset=dataset_input,
        original=original,
    )


def fetch_dataset(*, store: ObjectStore, cache: ContentCache, task_id: str, unlabelled: bool = False) -> DatasetInput:
    """The task's dataset snapshot with every labelled photo (and with `unlabelled`, every photo: their
    `label` is None) fetched and sha256-checked into the cache."""
    snapshot = load_snapshot(store=store, task_id=task_id)
    items = []
    for item in snapshot["items"]:
        if item["label"] is None and not unlabelled:
            continue
        key = keys.dataset_item(snapshot["id"], item["sha256"], item["extension"])
        if not store.exists(key):
            raise NotFound(
                f"photo {item['name']} ({item['sha256'][:12]}…) of dataset {snapshot['name']!r} is no longer stored: "
                "it was deleted from the dataset after this task was submitted"
            )
        cached = cache.fetch(
            store=store, key=key, name=f"item.{item['extension']}", sha256=item["sha256"], size=item["size"]
        )
        items.append(DatasetFile(item_id=item["id"], name=item["name"], label=item["label"], file=cached))
    return DatasetInput(
        id=snapshot["id"],
        name=snapshot["name"],
        digest=snapshot["digest"],
        classes=list(snapshot["classes"]),
        items=items,
        unlabelled=sum(1 for item in snapshot["items"] if item["label"] is None),
    )
