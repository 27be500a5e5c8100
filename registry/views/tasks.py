"""A task row as the API shows it, with presigned URLs for its outputs and manifest."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from commons.store import ObjectStore
from registry.clock import as_utc
from registry.models import Dataset, Resource, ResourceVersion, Task, User
from registry.rights import access, run_only_owner
from registry.schemas import OutputPublic, TaskPublic
from registry.views.base import view


def task_view(session: Session, task: Task, *, store: ObjectStore, expires_seconds: int) -> TaskPublic:
    """The task with its resource and version by name and number; a succeeded task's outputs and manifest are
    presigned for `expires_seconds`, except the outputs it withholds (see `withheld_outputs`)."""
    resource = session.get(Resource, task.resource_id) if task.resource_id else None
    version = session.get(ResourceVersion, task.version_id) if task.version_id else None
    succeeded = task.status == "succeeded"
    return view(
        TaskPublic,
        task,
        resource=resource.name if resource else ("" if task.resource_id else None),
        version=version.number if version else (0 if task.version_id else None),
        dataset=task.dataset_id,
        reproduces=task.reproduces_id,
        epochs_done=len(task.metrics),
        result=task.result if succeeded else None,
        progress=round(task.progress, 4),
        outputs=_outputs(session, task, resource, store=store, expires_seconds=expires_seconds) if succeeded else [],
        manifest_url=(
            store.presigned_url(task.manifest_key, expires_seconds=expires_seconds)
            if task.manifest_key and succeeded
            else None
        ),
        created_at=as_utc(task.created_at) or task.created_at,
        started_at=as_utc(task.started_at),
        finished_at=as_utc(task.finished_at),
    )


def _outputs(
    session: Session, task: Task, resource: Resource | None, *, store: ObjectStore, expires_seconds: int
) -> list[OutputPublic]:
    held = withheld_outputs(session, task, resource)
    shown = []
    for output in task.outputs:
        reason = held(output["name"])
        url = None if reason else store.presigned_url(output["key"], expires_seconds=expires_seconds)
        shown.append(view(OutputPublic, output, url=url, withheld=reason))
    return shown


WEIGHT_SUFFIXES = (".safetensors", ".pt", ".pth", ".onnx", ".ckpt", ".bin")
PHOTO_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".tiff", ".bmp")
WEIGHT_MODES = frozenset({"train", "edit", "export"})


def withheld_outputs(session: Session, task: Task, resource: Resource | None) -> Callable[[str], str | None]:
    """Why an output is not presigned (None: it is). Weights made by train/edit/export carry the source's
    bytes: offered only while the submitter may download the source's files (not run-only, still readable);
    the photos of an augmentation, only while the submitter may still read the source dataset."""
    submitter = session.get(User, task.owner_id)
    if resource is not None and task.mode in WEIGHT_MODES:
        holder = run_only_owner(session, resource, submitter)
        readable = access(session, resource, submitter).visible
        if holder is None and readable:
            return lambda _name: None
        why = (
            f"{holder.name!r} is run-only: its weights are not offered to others"
            if holder is not None
            else f"you can no longer read {resource.name!r}, whose weights this file carries"
        )
        return lambda name: why if name.lower().endswith(WEIGHT_SUFFIXES) else None
    if task.mode == "augment" and task.dataset_id is not None:
        dataset = session.get(Dataset, task.dataset_id)
        if dataset is not None and access(session, dataset, submitter).visible:
            return lambda _name: None
        why = "you can no longer read the source dataset, whose photos this file shows"
        return lambda name: why if name.lower().endswith(PHOTO_SUFFIXES) else None
    return lambda _name: None
