"""A task row as the API shows it, with presigned URLs for its outputs and manifest."""

from __future__ import annotations

from sqlmodel import Session

from commons.store import ObjectStore
from registry.clock import as_utc
from registry.models import Resource, ResourceVersion, Task
from registry.schemas import OutputPublic, StepPublic, TaskPublic


def task_public(session: Session, task: Task, *, store: ObjectStore, expires_seconds: int) -> TaskPublic:
    resource = session.get(Resource, task.resource_id) if task.resource_id else None
    version = session.get(ResourceVersion, task.version_id) if task.version_id else None
    outputs = (
        [
            OutputPublic(
                name=o["name"],
                size=o["size"],
                sha256=o["sha256"],
                url=store.presigned_url(o["key"], expires_seconds=expires_seconds),
            )
            for o in task.outputs
        ]
        if task.status == "succeeded"
        else []
    )
    manifest_url = (
        store.presigned_url(task.manifest_key, expires_seconds=expires_seconds)
        if task.manifest_key and task.status == "succeeded"
        else None
    )
    return TaskPublic(
        id=task.id,
        status=task.status,
        resource=resource.name if resource else ("" if task.resource_id else None),
        version=version.number if version else (0 if task.version_id else None),
        mode=task.mode,
        lane=task.lane,
        params=task.params,
        inputs=task.inputs,
        dataset=task.dataset_id,
        dataset_digest=task.dataset_digest,
        reproduces=task.reproduces_id,
        epochs_done=len(task.metrics),
        result=task.result if task.status == "succeeded" else None,
        steps=[StepPublic(**step) for step in task.steps],
        progress=round(task.progress, 4),
        error=task.error,
        outputs=outputs,
        manifest_url=manifest_url,
        flow_run_id=task.flow_run_id,
        task_run_id=task.task_run_id,
        created_at=as_utc(task.created_at) or task.created_at,
        started_at=as_utc(task.started_at),
        finished_at=as_utc(task.finished_at),
    )
