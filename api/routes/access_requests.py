"""The caller's access-request inbox: requests on every resource they own (all resources for an admin)."""

from __future__ import annotations

from fastapi import APIRouter, Query

from api.deps import CurrentUser, SessionDep
from registry.access_requests import inbox
from registry.schemas import AccessRequestPublic

router = APIRouter(prefix="/access-requests", tags=["permissions"])


@router.get("", response_model=list[AccessRequestPublic])
def list_inbox(
    user: CurrentUser,
    session: SessionDep,
    status_filter: str | None = Query(None, alias="status", pattern="^(pending|approved|denied)$"),
) -> list[AccessRequestPublic]:
    """Requests on the resources you own, newest first; `?status=pending` for those awaiting an answer."""
    return inbox(session, owner=user, status=status_filter)
