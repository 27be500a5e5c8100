"""Who may read which task, and the history of one's tasks with what a person recognises them by.

A task is read in full by its submitter (and admins). Anyone else who may reproduce it (a training whose
published version they may use, see `registry.reproductions`) reads its *public view*: steps, parameters,
metrics, manifest and the outputs they may read, never its logs, run ids or input photos. Anyone else is
told there is no such task, so a task's existence does not leak.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from commons.errors import Conflict, InvalidInput, NotFound
from registry.models import Dataset, Resource, ResourceVersion, Task, Upload, User
from registry.reproductions import reproducible_task
from registry.vocabulary import Mode, TaskStatus

MAX_HISTORY_PAGE = 200


@dataclass(frozen=True)
class Reading:
    """A task as one reader may read it: `public` when the reader is neither its submitter nor an admin."""

    task: Task
    public: bool


def readable_task(session: Session, *, task_id: str, user: User) -> Reading:
    """The task with how much of it `user` may read; NotFound (with no hint it exists) for anyone else."""
    task = session.get(Task, task_id)
    if task is not None and (task.owner_id == user.id or user.is_admin):
        return Reading(task=task, public=False)
    if task is not None and task.status == TaskStatus.SUCCEEDED:
        try:
            reproducible_task(session, task_id=task_id, user=user)
        except (NotFound, Conflict):
            pass
        else:
            return Reading(task=task, public=True)
    raise NotFound(
        f"no task {task_id!r} that you can read: it is not yours and does not publish a model you may use; "
        "list yours at GET /api/v1/tasks"
    )


def check_filters(*, mode: str | None, status: str | None) -> None:
    """Refuse an unknown mode or status in plain words (the caller sees which values exist)."""
    modes = sorted(m.value for m in Mode)
    if mode is not None and mode not in modes:
        raise InvalidInput(f"unknown mode {mode!r}; use one of {', '.join(modes)}", field="mode")
    statuses = sorted(s.value for s in TaskStatus)
    if status is not None and status not in statuses:
        raise InvalidInput(f"unknown status {status!r}; use one of {', '.join(statuses)}", field="status")


def history(
    session: Session, *, owner: User, mode: str | None, status: str | None, limit: int, offset: int
) -> list[Task]:
    """The owner's tasks, newest first, optionally of one mode and one status; at most MAX_HISTORY_PAGE."""
    check_filters(mode=mode, status=status)
    query = select(Task).where(Task.owner_id == owner.id)
    if mode is not None:
        query = query.where(Task.mode == mode)
    if status is not None:
        query = query.where(Task.status == status)
    query = query.order_by(col(Task.created_at).desc(), col(Task.id).desc())
    return list(session.exec(query.offset(offset).limit(min(limit, MAX_HISTORY_PAGE))))


@dataclass(frozen=True)
class Labels:
    """What several tasks are recognised by, read in a fixed number of queries: upload names by id, the
    `owner/name vN` of each version, dataset names by id and usernames by id."""

    uploads: dict[str, Upload]
    versions: dict[str, str]
    datasets: dict[str, Dataset]
    users: dict[str, str]


def labels_for(session: Session, tasks: list[Task]) -> Labels:
    upload_ids = {upload_id for task in tasks for upload_id in task.inputs}
    version_ids = {task.version_id for task in tasks if task.version_id}
    dataset_ids = {task.dataset_id for task in tasks if task.dataset_id}
    uploads = (
        {u.id: u for u in session.exec(select(Upload).where(col(Upload.id).in_(upload_ids)))} if upload_ids else {}
    )
    rows = (
        session.exec(
            select(ResourceVersion, Resource, User)
            .join(Resource, col(Resource.id) == col(ResourceVersion.resource_id))
            .join(User, col(User.id) == col(Resource.owner_id))
            .where(col(ResourceVersion.id).in_(version_ids))
        ).all()
        if version_ids
        else []
    )
    versions = {v.id: f"{u.username}/{r.name} v{v.number}" for v, r, u in rows}
    datasets = (
        {d.id: d for d in session.exec(select(Dataset).where(col(Dataset.id).in_(dataset_ids)))} if dataset_ids else {}
    )
    owner_ids = {task.owner_id for task in tasks}
    users = {u.id: u.username for u in session.exec(select(User).where(col(User.id).in_(owner_ids)))}
    return Labels(uploads=uploads, versions=versions, datasets=datasets, users=users)


def result_resource(session: Session, task: Task) -> Resource | None:
    """The resource a task published a version of (train, edit, export), or None."""
    if not task.result or "resource" not in task.result:
        return None
    resource_id = task.result.get("resource_id")
    if resource_id:
        return session.get(Resource, resource_id)
    return session.exec(select(Resource).where(Resource.name == task.result["resource"])).first()
