"""Grants (owner only) and access requests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Depends, Query, status
from pydantic import BaseModel
from sqlmodel import Session

from api.deps import ClientAddress, CurrentUser, SessionDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.security import limit_access_requests, limit_grant_creation
from registry import rights
from registry.audit import Action, record
from registry.models import User
from registry.rights import resource_for
from registry.schemas import AccessRequestCreate, AccessRequestPublic, GrantCreate, GrantPublic
from registry.views.grants import access_request_view, grant_view

router = APIRouter(prefix="/resources/{name:ref}", tags=["permissions"])


def _creates(model: type[BaseModel], limit: Callable[..., None]) -> dict[str, Any]:
    """What a POST that creates one `model` declares: 201 Created, the answer's schema, and its rate limit."""
    return {"status_code": status.HTTP_201_CREATED, "response_model": model, "dependencies": [Depends(limit)]}


@router.post("/grants", **_creates(GrantPublic, limit_grant_creation))
def create_grant(
    name: str, spec: GrantCreate, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> GrantPublic:
    resource = resource_for(session, name=name, user=user, need="own")
    created = rights.create_grant(session, resource, spec, actor=user, address=address)
    return grant_view(session, created)


@router.get("/grants", response_model=list[GrantPublic])
def list_grants(name: str, user: CurrentUser, session: SessionDep) -> list[GrantPublic]:
    resource = resource_for(session, name=name, user=user, need="own")
    return [grant_view(session, item) for item in rights.list_grants(session, resource)]


@router.delete("/grants/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_grant(name: str, grant_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress) -> None:
    resource = resource_for(session, name=name, user=user, need="own")
    rights.delete_grant(session, resource, grant_id, actor=user, address=address)


@router.post("/access-requests", **_creates(AccessRequestPublic, limit_access_requests))
def create_access_request(
    name: str, spec: AccessRequestCreate, user: CurrentUser, session: SessionDep
) -> AccessRequestPublic:
    """Ask the owner for a right on a resource you can see (a public one). On a derivative you made from a
    source you can no longer read, the request goes to that source and its owner."""
    resource = rights.request_target(session, resource_for(session, name=name, user=user), user)
    created = rights.request_access(
        session, resource=resource, requester=user, permission=spec.permission, message=spec.message, group=spec.group
    )
    return access_request_view(session, created, resource)


@router.get("/access-requests", response_model=list[AccessRequestPublic])
def list_access_requests(
    name: str,
    user: CurrentUser,
    session: SessionDep,
    status_filter: str | None = Query(None, alias="status", pattern="^(pending|approved|denied)$"),
) -> list[AccessRequestPublic]:
    """The owner sees every request; anyone else sees their own."""
    resource = resource_for(session, name=name, user=user)
    is_owner = "own" in rights.rights(session, resource, user)
    found = rights.list_requests(session, resource=resource, viewer=user, is_owner=is_owner, status=status_filter)
    return [access_request_view(session, item, resource) for item in found]


@router.post("/access-requests/{request_id}/approve", response_model=AccessRequestPublic)
def approve(
    name: str, request_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> AccessRequestPublic:
    return _decide(session, name=name, request_id=request_id, approve=True, user=user, address=address)


@router.post("/access-requests/{request_id}/deny", response_model=AccessRequestPublic)
def deny(
    name: str, request_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> AccessRequestPublic:
    return _decide(session, name=name, request_id=request_id, approve=False, user=user, address=address)


def _decide(
    session: Session, *, name: str, request_id: str, approve: bool, user: User, address: str | None
) -> AccessRequestPublic:
    """Approve or deny a request on the caller's resource, and record the decision in the audit trail."""
    resource = resource_for(session, name=name, user=user, need="own")
    decided = rights.decide(session, resource=resource, request_id=request_id, approve=approve, actor=user)
    public = access_request_view(session, decided, resource)
    detail = {"request": decided.id, "requester": public.requester, "permission": decided.permission}
    action: Action = "request.approve" if approve else "request.deny"
    record(session, actor=user, action=action, target=resource, detail=detail, address=address)
    return public
