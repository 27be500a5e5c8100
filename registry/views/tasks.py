"""A task row as the API shows it, with presigned URLs for its outputs and manifest."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel import Session

from commons.store import ObjectStore
from registry.clock import as_utc
from registry.models import Dataset, Resource, ResourceVersion, Task, User
from registry.rights import access, may_download, run_only_owner
from registry.schemas import OutputPublic, TaskPublic
from registry.task_reading import Labels, Reading, labels_for, result_resource
from registry.task_schemas import TaskShown
from registry.views.base import view


def task_view(
    session: Session, task: Task, *, store: ObjectStore, expires_seconds: int, reader: User | None = None
) -> TaskPublic:
    """The task with its resource and version by name and number; a succeeded task's outputs and manifest are
    presigned for `expires_seconds`, except the outputs it withholds (see `withheld_outputs`) from its submitter
    or, when given, from `reader`."""
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
        outputs=(
            _outputs(session, task, resource, store=store, expires_seconds=expires_seconds, reader=reader)
            if succeeded
            else []
        ),
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
    session: Session,
    task: Task,
    resource: Resource | None,
    *,
    store: ObjectStore,
    expires_seconds: int,
    reader: User | None,
) -> list[OutputPublic]:
    held = withheld_outputs(session, task, resource)
    if reader is not None and reader.id != task.owner_id and not reader.is_admin:
        held = _also(held, withheld_from_reader(session, task, resource, reader))
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


def _also(first: Callable[[str], str | None], second: Callable[[str], str | None]) -> Callable[[str], str | None]:
    return lambda name: first(name) or second(name)


def withheld_from_reader(
    session: Session, task: Task, resource: Resource | None, reader: User
) -> Callable[[str], str | None]:
    """Why an output is not offered to a reader other than the submitter (None: it is): weights only while the
    reader may download the resource that ran and the one published (neither run-only for them); images made
    from the submitter's own photos never, those of an augmentation only while the reader may read its dataset
    (a training's plots are offered)."""
    made = result_resource(session, task)
    blocked = next((r for r in (resource, made) if r is not None and not may_download(session, r, reader)), None)
    weights_hidden = None
    if blocked is not None:
        holder = run_only_owner(session, blocked, reader)
        weights_hidden = (
            f"{holder.name!r} is run-only: its weights are offered to its owner alone"
            if holder is not None
            else "you may not read the model whose weights this file carries"
        )
    photos_hidden = None
    if task.inputs:
        photos_hidden = "it shows the submitter's own photos, which are not shared"
    elif task.mode == "augment":
        dataset = session.get(Dataset, task.dataset_id) if task.dataset_id else None
        if dataset is None or not access(session, dataset, reader).visible:
            photos_hidden = "you may not read the task's dataset, whose photos this file shows"

    def why(name: str) -> str | None:
        lowered = name.lower()
        if weights_hidden is not None and lowered.endswith(WEIGHT_SUFFIXES):
            return weights_hidden
        if photos_hidden is not None and lowered.endswith(PHOTO_SUFFIXES):
            return photos_hidden
        return None

    return why


THUMBNAIL_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp")


def task_shown(
    session: Session,
    reading: Reading,
    *,
    reader: User,
    store: ObjectStore,
    expires_seconds: int,
    labels: Labels | None = None,
) -> TaskShown:
    """The task as `reader` may read it (see `registry.task_reading`), with the names a person knows it by;
    the public view leaves out run ids, input photos and what names things the reader may not read."""
    task = reading.task
    labels = labels or labels_for(session, [task])
    public = task_view(session, task, store=store, expires_seconds=expires_seconds, reader=reader)
    resource = session.get(Resource, task.resource_id) if task.resource_id else None
    sees_resource = resource is not None and (not reading.public or access(session, resource, reader).visible)
    dataset = labels.datasets.get(task.dataset_id or "")
    sees_dataset = dataset is not None and (not reading.public or access(session, dataset, reader).visible)
    hidden: dict[str, object] = {}
    if reading.public:
        hidden = {"inputs": [], "flow_run_id": None, "task_run_id": None}
        if not sees_resource and public.resource is not None:
            hidden["resource"] = ""
    shown = public.model_copy(update=hidden)
    return TaskShown(
        **shown.model_dump(),
        owner=labels.users.get(task.owner_id, ""),
        public=reading.public,
        model=labels.versions.get(task.version_id or "") if sees_resource else None,
        kind=resource.kind if resource is not None and sees_resource else None,
        input_names=[] if reading.public else [_upload_name(labels, i) for i in task.inputs],
        dataset_name=dataset.name if dataset is not None and sees_dataset else None,
        thumbnail_url=f"/api/v1/tasks/{task.id}/thumbnail" if thumbnail_source(reading, public.outputs) else None,
    )


def task_shown_many(
    session: Session, tasks: list[Task], *, reader: User, store: ObjectStore, expires_seconds: int
) -> list[TaskShown]:
    """The reader's own tasks as the history shows them; names read in a fixed number of queries."""
    labels = labels_for(session, tasks)
    return [
        task_shown(
            session,
            Reading(task=task, public=False),
            reader=reader,
            store=store,
            expires_seconds=expires_seconds,
            labels=labels,
        )
        for task in tasks
    ]


def _upload_name(labels: Labels, upload_id: str) -> str:
    upload = labels.uploads.get(upload_id)
    return upload.name if upload is not None else f"(deleted photo {upload_id[:8]})"


def thumbnail_source(reading: Reading, outputs: list[OutputPublic]) -> tuple[str, str] | None:
    """What a task's preview is made from: ("upload", id) for its first input photo (its submitter only), or
    ("output", name) for its first image output the reader may read; None when it has neither."""
    if not reading.public and reading.task.inputs:
        return ("upload", reading.task.inputs[0])
    images = [o.name for o in outputs if o.url is not None and o.name.lower().endswith(THUMBNAIL_SUFFIXES)]
    # A blended overlay shows the photo and its result; a label map (16-bit ids) shows least.
    images.sort(key=lambda name: 0 if "blended" in name else 2 if name.endswith("labels.png") else 1)
    return ("output", images[0]) if images else None
