"""Grants (owner only) and access requests."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status

from api.deps import ClientAddress, CurrentUser, SessionDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.security import limit_access_requests, limit_grant_creation
from registry import grants as grant_rows
from registry.audit import record
from registry.permissions import resource_for, rights
from registry.schemas import AccessRequestCreate, AccessRequestPublic, GrantCreate, GrantPublic

router = APIRouter(prefix="/resources/{name:ref}", tags=["permissions"])


@router.post(
    "/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantPublic,
    dependencies=[Depends(limit_grant_creation)],
)
def create_grant(
    name: str, spec: GrantCreate, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> GrantPublic:
    resource = resource_for(session, name=name, user=user, need="own")
    grantee = grant_rows.grantee_for(session, username=spec.username, group=spec.group)
    created = grant_rows.grant_on(session, resource, grantee=grantee, permission=spec.permission, actor=user)
    detail = {"grant": created.id, "to": grantee.label, "permission": spec.permission}
    record(session, actor=user, action="grant.create", target=resource, detail=detail, address=address)
    return grant_rows.grant_public(session, created)


@router.get("/grants", response_model=list[GrantPublic])
def list_grants(name: str, user: CurrentUser, session: SessionDep) -> list[GrantPublic]:
    resource = resource_for(session, name=name, user=user, need="own")
    return [grant_rows.grant_public(session, item) for item in grant_rows.list_grants(session, resource)]


@router.delete("/grants/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_grant(name: str, grant_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress) -> None:
    resource = resource_for(session, name=name, user=user, need="own")
    revoked = grant_rows.revoke(session, resource=resource, grant_id=grant_id)
    record(session, actor=user, action="grant.revoke", target=resource, detail=revoked, address=address)


@router.post(
    "/access-requests",
    status_code=status.HTTP_201_CREATED,
    response_model=AccessRequestPublic,
    dependencies=[Depends(limit_access_requests)],
)
def create_access_request(
    name: str, spec: AccessRequestCreate, user: CurrentUser, session: SessionDep
) -> AccessRequestPublic:
    """Ask the owner for a right on a resource you can see (a public one). On a derivative you made from a
    source you can no longer read, the request goes to that source and its owner."""
    resource = grant_rows.request_target(session, resource_for(session, name=name, user=user), user)
    created = grant_rows.request_access(
        session, resource=resource, requester=user, permission=spec.permission, message=spec.message, group=spec.group
    )
    return grant_rows.request_public(session, created, resource)


@router.get("/access-requests", response_model=list[AccessRequestPublic])
def list_access_requests(
    name: str,
    user: CurrentUser,
    session: SessionDep,
    status_filter: str | None = Query(None, alias="status", pattern="^(pending|approved|denied)$"),
) -> list[AccessRequestPublic]:
    """The owner sees every request; anyone else sees their own."""
    resource = resource_for(session, name=name, user=user)
    is_owner = "own" in rights(session, resource, user)
    found = grant_rows.list_requests(session, resource=resource, viewer=user, is_owner=is_owner, status=status_filter)
    return [grant_rows.request_public(session, item, resource) for item in found]


@router.post("/access-requests/{request_id}/approve", response_model=AccessRequestPublic)
def approve(
    name: str, request_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> AccessRequestPublic:
    resource = resource_for(session, name=name, user=user, need="own")
    decided = grant_rows.decide(session, resource=resource, request_id=request_id, approve=True, actor=user)
    public = grant_rows.request_public(session, decided, resource)
    detail = {"request": decided.id, "requester": public.requester, "permission": decided.permission}
    record(session, actor=user, action="request.approve", target=resource, detail=detail, address=address)
    return public


@router.post("/access-requests/{request_id}/deny", response_model=AccessRequestPublic)
def deny(
    name: str, request_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> AccessRequestPublic:
    resource = resource_for(session, name=name, user=user, need="own")
    decided = grant_rows.decide(session, resource=resource, request_id=request_id, approve=False, actor=user)
    public = grant_rows.request_public(session, decided, resource)
    detail = {"request": decided.id, "requester": public.requester, "permission": decided.permission}
    record(session, actor=user, action="request.deny", target=resource, detail=detail, address=address)
    return public
