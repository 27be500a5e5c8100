"""Who may re-run which task: its submitter, or anyone who may use the version a training published."""

from __future__ import annotations

from sqlmodel import Session, select

from commons.errors import Conflict, NotFound
from registry.models import Resource, Task, User
from registry.rights import rights
from registry.vocabulary import TaskStatus


def reproducible_task(session: Session, *, task_id: str, user: User) -> Task:
    """The task to reproduce: the caller's own (or any, for an admin), or a training whose published
    version the caller may use — so a published model's training recipe can be re-run by its users."""
    task = session.get(Task, task_id)
    missing = NotFound(f"no task {task_id!r} you can reproduce; list yours at GET /api/v1/tasks")
    if task is None:
        raise missing
    if task.owner_id != user.id and not user.is_admin and not _may_use_result(session, task, user):
        raise missing
    if task.status != TaskStatus.SUCCEEDED:
        raise Conflict(f"task {task.id} is {task.status}; only a succeeded task has results to reproduce")
    return task


def _may_use_result(session: Session, task: Task, user: User) -> bool:
    if not task.result or "resource" not in task.result:
        return False
    resource_id = task.result.get("resource_id")
    resource = (
        session.get(Resource, resource_id)
        if resource_id
        else session.exec(select(Resource).where(Resource.name == task.result["resource"])).first()  # before 0011
    )
    if resource is None:
        return False
    return "use" in rights(session, resource, user)
