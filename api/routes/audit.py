"""The audit trail: events on the caller's items (every event for an admin)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, PageDep, SessionDep
from registry.audit import ACTIONS, AuditEventPublic, events_for

router = APIRouter(prefix="/audit", tags=["audit"])
ACTION_PATTERN = "^(" + "|".join(action.replace(".", r"\.") for action in ACTIONS) + ")$"


@router.get("", response_model=list[AuditEventPublic])
def list_events(
    user: CurrentUser,
    session: SessionDep,
    page: PageDep,
    action: Annotated[str | None, Query(pattern=ACTION_PATTERN, description="Only this action.")] = None,
    target_type: Annotated[str | None, Query(pattern="^(resource|dataset|task|group|account)$")] = None,
    target_id: Annotated[str | None, Query(max_length=32, description="Only events on this item (its id).")] = None,
    actor: Annotated[str | None, Query(max_length=64, description="Only events by this user name.")] = None,
    since: Annotated[datetime | None, Query(description="Only events at or after this time (ISO 8601).")] = None,
) -> list[AuditEventPublic]:
    """Grants, revocations, approvals, denials, visibility and policy changes, deletions, downloads of private
    files and tasks by others, on the items you own (all items for an admin), newest first."""
    return events_for(
        session,
        viewer=user,
        action=action,
        target_type=target_type,
        target_id=target_id,
        actor=actor,
        since=since,
        limit=page.limit,
        offset=page.offset,
    )
