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
from flows.cache import CachedFile, ContentCache
from flows.environment import describe_environment, seed_everything
from registry import tasks as task_rows
from registry.models import Resource, ResourceVersion, Upload, User
from registry.permissions import resource_for

SAFE_STEM = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class InputFile:
    upload_id: str
    name: str
    stem: str
    file: CachedFile


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
    flow_run_id: str | None
    timings: dict[str, Any] = field(default_factory=dict)


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
        resource = session.get(Resource, task.resource_id)
        version = session.get(ResourceVersion, task.version_id)
        if owner is None or resource is None or version is None:
            raise NotFound("the task's user, resource or version no longer exists")
        resource_for(session, name=resource.name, user=owner, need="use")  # the right may have been revoked
        uploads = [session.get(Upload, upload_id) for upload_id in task.inputs]
        resource_info: dict[str, Any] = {
            "id": resource.id,
            "name": resource.name,
            "kind": resource.kind,
            "version": version.number,
            "digest": version.digest,
        }
        files = list(version.files)
        config, params, mode = dict(version.config), dict(task.params), task.mode
        submitted_by, flow_run_id = owner.username, task.flow_run_id
    cache = ContentCache(settings.cache_dir)
    weights = {
        f["name"]: cache.fetch(
            store=store,
            key=keys.version_file(resource_info["id"], resource_info["version"], f["name"]),
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
        environment=describe_environment(device),
        work_dir=settings.data_dir.resolve() / "work" / task_id,
        submitted_by=submitted_by,
        flow_run_id=flow_run_id,
    )
