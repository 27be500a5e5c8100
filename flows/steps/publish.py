"""The publish step: every output under `tasks/<id>/outputs/`, then `manifest.json` last (`flows.steps.manifest`)."""

from __future__ import annotations

import mimetypes
from pathlib import Path
from typing import Any

from sqlmodel import Session

from commons.errors import NotFound
from commons.hashing import sha256_file
from commons.store import ObjectStore, keys
from flows.steps.manifest import (
    Manifest,
    ManifestDataset,
    ManifestFile,
    ManifestInput,
    ManifestOutput,
    ManifestResource,
    ManifestTask,
)
from flows.steps.prepare import Prepared
from flows.steps.records import DatasetProduct
from registry.clock import utcnow
from registry.datasets import create_derived_dataset, dataset_digest, derived_dataset_id, validate_image
from registry.models import Resource, ResourceVersion, Task, User
from registry.trained_versions import publish_trained_version
from registry.versions import StagedFile


def upload_outputs(*, store: ObjectStore, prepared: Prepared, files: list[Path]) -> list[dict[str, Any]]:
    out_root = prepared.outputs
    published = []
    for path in sorted(files):
        relative = path.relative_to(out_root).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        key = keys.task_output(prepared.task_id, relative)
        store.put_file(key=key, path=path, content_type=content_type)
        published.append(
            {
                "name": relative,
                "key": key,
                "size": path.stat().st_size,
                "sha256": sha256_file(path),
                "content_type": content_type,
            }
        )
    return published


def publish_product(
    session: Session,
    *,
    store: ObjectStore,
    prepared: Prepared,
    task: Task,
    outputs: list[dict[str, Any]],
    max_pixels: int,
) -> dict[str, Any] | None:
    """Turn what the work step made for the registry into a version: `{"resource", "version", "digest"}` and
    the product's `summary` (train: `best_epoch`, `best_val_accuracy`, `warnings`), or, for a dataset task
    (augment), into a dataset: `{"dataset", "name", "items", "digest"}`.

    A reproduction publishes nothing to the registry: it only checks that the outputs come out the same.
    """
    product = prepared.product
    if product is None or task.reproduces_id is not None:
        return None
    if isinstance(product, DatasetProduct):
        return publish_dataset(session, store=store, task=task, product=product, max_pixels=max_pixels)
    owner = session.get(User, task.owner_id)
    source = session.get(Resource, task.resource_id)
    parent = session.get(ResourceVersion, task.version_id)
    if owner is None or source is None or parent is None:
        raise NotFound("the task's user, resource or version no longer exists")
    weights = product.weights
    uploaded = next(o for o in outputs if o["name"] == weights.name)  # hashed once, when it was uploaded
    provenance = {
        "task": task.id,
        "mode": task.mode,
        "parent": {"resource": source.name, "version": parent.number, "digest": parent.digest},
        "dataset": product.dataset,
        "split": product.split,
        "params": prepared.params,
        "seed": prepared.seed,
        "device": prepared.device,
    }
    resource, version = publish_trained_version(
        session,
        store=store,
        owner=owner,
        source=source,
        parent=parent,
        publish_as=product.publish_as,
        weights=StagedFile(name=weights.name, path=weights, size=uploaded["size"], sha256=uploaded["sha256"]),
        config=product.config,
        reported_metrics=product.reported_metrics,
        provenance=provenance,
    )
    owner_name = session.get(User, resource.owner_id)
    return {
        "resource": resource.name,
        "resource_id": resource.id,
        "ref": f"{owner_name.username if owner_name else ''}/{resource.name}",
        "version": version.number,
        "digest": version.digest,
        **product.summary,
    }


def publish_dataset(
    session: Session, *, store: ObjectStore, task: Task, product: DatasetProduct, max_pixels: int
) -> dict[str, Any]:
    """The derived dataset of a dataset task: its photos stored, then its rows (see `create_derived_dataset`)."""
    owner = session.get(User, task.owner_id)
    if owner is None:
        raise NotFound("the task's user no longer exists")
    images = [
        (validate_image(path.read_bytes(), name=name, max_pixels=max_pixels), label)
        for path, name, label in product.photos
    ]
    dataset = create_derived_dataset(
        session,
        store=store,
        owner=owner,
        dataset_id=derived_dataset_id(task.id),
        source_id=product.source_id,
        name=product.name,
        description=f"Made by task {task.id} from dataset {product.source_name!r}.",
        classes=product.classes,
        derivation=product.derivation,
        images=images,
    )
    return {
        "dataset": dataset.id,
        "name": dataset.name,
        "items": len(images),
        "digest": dataset_digest(session, dataset),
    }


def build_manifest(
    *,
    prepared: Prepared,
    outputs: list[dict[str, Any]],
    steps: list[dict[str, Any]],
    result: dict[str, Any] | None = None,
) -> Manifest:
    """Everything needed to re-run the task and check the result: inputs, weights, params, environment."""
    return Manifest(
        task=ManifestTask(
            id=prepared.task_id,
            mode=prepared.mode,
            submitted_by=prepared.submitted_by,
            flow_run_id=prepared.flow_run_id,
            task_run_id=prepared.task_run_id,
            published_at=utcnow().isoformat(),
        ),
        resource=_manifest_resource(prepared),
        params=prepared.params,
        seed=prepared.seed,
        inputs=[
            ManifestInput(
                upload_id=i.upload_id,
                name=i.name,
                output_folder=i.stem,
                sha256=i.file.sha256,
                size=i.file.size,
                cache="hit" if i.file.hit else "miss",
            )
            for i in prepared.inputs
        ],
        dataset=None
        if prepared.dataset is None
        else ManifestDataset(**prepared.dataset.describe(), labelled_items=len(prepared.dataset.items)),
        reproduces=prepared.original.task_id if prepared.original else None,
        result=result,
        outputs=[ManifestOutput(**{k: o[k] for k in ManifestOutput.model_fields}) for o in outputs],
        environment=prepared.environment,
        timings=prepared.timings,
        steps=steps,
    )


def _manifest_resource(prepared: Prepared) -> ManifestResource | None:
    """The version the task ran, its config and its weights files; None for a task on a dataset alone."""
    if prepared.resource is None:
        return None
    files = [
        ManifestFile(name=name, sha256=f.sha256, size=f.size, cache="hit" if f.hit else "miss")
        for name, f in sorted(prepared.weights.items())
    ]
    return ManifestResource(**prepared.resource.as_dict(), config=prepared.config, files=files)


def write_manifest(*, store: ObjectStore, task_id: str, manifest: Manifest) -> str:
    key = keys.task_manifest(task_id)
    store.put_bytes(key=key, data=manifest.to_json(), content_type="application/json")
    return key
