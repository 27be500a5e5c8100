"""The audit trail: who did what to whose item, when and from where — append-only.

Recorded: grants and revocations, approvals and denials of access requests, visibility and policy changes,
deletions, downloads of a private item's files, tasks on someone else's item, group membership changes, and
what happens to an account (disabled or enabled by an admin, password changed, signed out everywhere, API
tokens made or revoked): the account is the "item", so its holder reads those events too.
Rows are only ever inserted (this module has no update or delete); the owner of an item reads the events on
it, admins all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field
from sqlmodel import Session, col, select

from registry.models import AuditEvent, Dataset, Group, Resource, Task, User

Action = Literal[
    "grant.create",
    "grant.revoke",
    "request.approve",
    "request.deny",
    "visibility.change",
    "policy.change",
    "dataset.delete",
    "item.delete",
    "file.download",
    "task.submit",
    "group.create",
    "member.add",
    "member.remove",
    "group.delete",
    "account.disable",
    "account.enable",
    "account.password",
    "account.signout",
    "token.create",
    "token.revoke",
]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]


class AuditEventPublic(BaseModel):
    id: str
    at: datetime
    actor: str = Field(description="Who did it (user name at the time).")
    action: str
    target_type: str
    target_id: str
    target_name: str
    detail: dict[str, Any]
    address: str | None = Field(description="The client address the request came from.")


def record(
    session: Session,
    *,
    actor: User | None,
    action: Action,
    target: Resource | Dataset | Task | Group | User,
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> AuditEvent:
    """Append one event (committed with the caller's transaction: no event for an action that failed)."""
    owner_id: str | None
    if isinstance(target, User):
        target_type, name, owner_id = "account", target.username, target.id
    elif isinstance(target, Task):
        target_type, name, owner_id = "task", f"{target.mode} task", target.owner_id
    elif isinstance(target, Group):
        target_type, name, owner_id = "group", target.name, target.owner_id
    else:
        owner_id = target.owner_id
        target_type, name = ("resource" if isinstance(target, Resource) else "dataset"), target.name
    event = AuditEvent(
        actor_id=actor.id if actor else None,
        actor=actor.username if actor else "anonymous",
        action=action,
        target_type=target_type,
        target_id=target.id,
        target_name=name[:200],
        owner_id=owner_id,
        detail=detail or {},
        address=(address or "")[:64] or None,
    )
    session.add(event)
    session.flush()
    return event


def record_for_owner(
    session: Session,
    *,
    actor: User,
    action: Action,
    target: Resource | Dataset,
    detail: dict[str, Any] | None = None,
    address: str | None = None,
) -> None:
    """`record` only when `actor` is not the item's owner (a task or a download on someone else's item)."""
    if actor.id != target.owner_id:
        record(session, actor=actor, action=action, target=target, detail=detail, address=address)


def events_for(
    session: Session,
    *,
    viewer: User,
    action: str | None = None,
    target_type: str | None = None,
    target_id: str | None = None,
    actor: str | None = None,
    since: datetime | None = None,
    limit: int,
    offset: int,
) -> list[AuditEventPublic]:
    """Events on the viewer's items (every event for an admin), newest first, filtered and paged."""
    query = select(AuditEvent)
    if not viewer.is_admin:
        query = query.where(AuditEvent.owner_id == viewer.id)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if target_type is not None:
        query = query.where(AuditEvent.target_type == target_type)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if since is not None:
        query = query.where(col(AuditEvent.at) >= since)
    query = query.order_by(col(AuditEvent.at).desc(), col(AuditEvent.id).desc()).offset(offset).limit(limit)
    return [AuditEventPublic.model_validate(row, from_attributes=True) for row in session.exec(query).all()]


def record_policy_changes(
    session: Session, *, actor: User, item: Resource | Dataset, before: dict[str, Any], address: str | None
) -> None:
    """One event per owner field (visibility, derivatives, download) whose value changed."""
    for field, old in sorted(before.items()):
        new = getattr(item, field)
        if new != old:
            action: Action = "visibility.change" if field == "visibility" else "policy.change"
            record(
                session,
                actor=actor,
                action=action,
                target=item,
                detail={"field": field, "from": old, "to": new},
                address=address,
            )
