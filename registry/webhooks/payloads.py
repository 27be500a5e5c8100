"""What each webhook body's `data` says. Never a presigned URL or other credential (a webhook leaves the commons):
the receiver reads files through the API with its own token, at the `url` given."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlmodel import Session

from registry.clock import as_utc
from registry.models import (
    AccessRequest,
    Dataset,
    DatasetAccessRequest,
    Resource,
    ResourceVersion,
    Task,
    User,
)
from registry.notification_events import item_ref, resource_ref

API = "/api/v1"
MAX_OUTPUTS = 100


def _when(moment: Any) -> str | None:
    found = as_utc(moment)
    return found.isoformat() if found is not None else None


def _subject(session: Session, task: Task) -> dict[str, Any]:
    resource = session.get(Resource, task.resource_id) if task.resource_id else None
    version = session.get(ResourceVersion, task.version_id) if task.version_id else None
    return {
        "resource": resource_ref(session, resource) if resource is not None else None,
        "version": version.number if version is not None else None,
    }


def task_brief(session: Session, task: Task) -> dict[str, Any]:
    """What anyone hearing of the task learns: which task, who submitted it, its state and times."""
    owner = session.get(User, task.owner_id)
    return {
        "id": task.id,
        "url": f"{API}/tasks/{quote(task.id, safe='')}",
        "status": task.status,
        "mode": task.mode,
        "owner": owner.username if owner is not None else None,
        "created_at": _when(task.created_at),
        "started_at": _when(task.started_at),
        "finished_at": _when(task.finished_at),
    }


def task_full(session: Session, task: Task) -> dict[str, Any]:
    """The task as its submitter's own webhook sees it: the brief, progress, steps, figures, error and outputs (at
    most MAX_OUTPUTS listed; `outputs_total` counts them all)."""
    outputs = [
        {key: entry.get(key) for key in ("name", "size", "sha256", "content_type")}
        for entry in task.outputs[:MAX_OUTPUTS]
    ]
    return {
        **task_brief(session, task),
        **_subject(session, task),
        "dataset": task.dataset_id,
        "progress": task.progress,
        "steps": [dict(step) for step in task.steps],
        "metrics": [dict(record) for record in task.metrics[-MAX_OUTPUTS:]],
        "error": task.error,
        "result": task.result,
        "outputs": outputs,
        "outputs_total": len(task.outputs),
    }


def task_on_item(session: Session, task: Task, item: Resource | Dataset) -> dict[str, Any]:
    """The task as the owner of `item` (the resource it ran, or the dataset it read) hears of it: the brief and
    that item, nothing of its results or of other items it used."""
    if isinstance(item, Resource):
        return {**task_brief(session, task), **_subject(session, task)}
    return {**task_brief(session, task), "dataset": item_ref(session, item)}


def version_data(session: Session, resource: Resource, version: ResourceVersion, actor: User) -> dict[str, Any]:
    ref = resource_ref(session, resource)
    return {
        "resource": ref,
        "version": version.number,
        "digest": version.digest,
        "created_by": actor.username,
        "created_at": _when(version.created_at),
        "files": [
            {"name": entry.get("name"), "size": entry.get("size"), "sha256": entry.get("sha256")}
            for entry in version.files[:MAX_OUTPUTS]
        ],
        "url": f"{API}/resources/{ref}/versions/{version.number}",
    }


def request_data(
    session: Session, request: AccessRequest | DatasetAccessRequest, item: Resource | Dataset, requester: User
) -> dict[str, Any]:
    kind = "resource" if isinstance(item, Resource) else "dataset"
    return {
        "id": request.id,
        kind: item_ref(session, item),
        "requester": requester.username,
        "permission": request.permission,
        "group": request.group_id,
        "message": request.message[:1000],
        "created_at": _when(request.created_at),
    }
