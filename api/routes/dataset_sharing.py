"""Access requests on a dataset: anyone who may see it asks its owner for a right; the owner approves or denies.
(Grants on a dataset are in `api.routes.datasets`.)"""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, status
from sqlmodel import Session

from api.deps import ClientAddress, CurrentUser, SessionDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.security import limit_access_requests
from registry import rights as perms
from registry.audit import Action, record
from registry.models import User
from registry.schemas import AccessRequestCreate, DatasetAccessRequestPublic
from registry.views.grants import dataset_access_request_view as request_view

# Included before `datasets.item_router`: /datasets/{ref} would read /datasets/ID/access-requests as a ref.
router = APIRouter(prefix="/datasets/{dataset_id:ref}/access-requests", tags=["permissions"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DatasetAccessRequestPublic,
    dependencies=[Depends(limit_access_requests)],
)
def create_request(
    dataset_id: str, spec: AccessRequestCreate, user: CurrentUser, session: SessionDep
) -> DatasetAccessRequestPublic:
    """Ask the owner for `use` or `modify` on a dataset you can see (a public one, or one shared with you).
    On an augmented copy of a private dataset you can no longer read, the request goes to that source."""
    dataset = perms.request_target(session, perms.dataset_for(session, dataset_id=dataset_id, user=user), user)
    created = perms.request_access(
        session, dataset=dataset, requester=user, permission=spec.permission, message=spec.message, group=spec.group
    )
    return request_view(session, created, dataset)


@router.get("", response_model=list[DatasetAccessRequestPublic])
def list_requests(
    dataset_id: str,
    user: CurrentUser,
    session: SessionDep,
    status_filter: str | None = Query(None, alias="status", pattern="^(pending|approved|denied)$"),
) -> list[DatasetAccessRequestPublic]:
    """The owner sees every request on the dataset; anyone else sees their own."""
    dataset = perms.dataset_for(session, dataset_id=dataset_id, user=user)
    is_owner = "own" in perms.rights(session, dataset, user)
    found = perms.list_requests(session, dataset=dataset, viewer=user, is_owner=is_owner, status=status_filter)
    return [request_view(session, item, dataset) for item in found]


@router.post("/{request_id}/approve", response_model=DatasetAccessRequestPublic)
def approve(
    dataset_id: str, request_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> DatasetAccessRequestPublic:
    """Grant what the request asks (to the requester, or to the group they asked for)."""
    return _decide(session, ref=dataset_id, request_id=request_id, approve=True, user=user, address=address)


@router.post("/{request_id}/deny", response_model=DatasetAccessRequestPublic)
def deny(
    dataset_id: str, request_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> DatasetAccessRequestPublic:
    return _decide(session, ref=dataset_id, request_id=request_id, approve=False, user=user, address=address)


def _decide(
    session: Session, *, ref: str, request_id: str, approve: bool, user: User, address: str | None
) -> DatasetAccessRequestPublic:
    """Approve or deny a request on the caller's dataset, and record the decision in the audit trail."""
    dataset = perms.dataset_for(session, dataset_id=ref, user=user, need="own")
    decided = perms.decide(session, dataset=dataset, request_id=request_id, approve=approve, actor=user)
    public = request_view(session, decided, dataset)
    detail = {"request": decided.id, "requester": public.requester, "permission": decided.permission}
    action: Action = "request.approve" if approve else "request.deny"
    record(session, actor=user, action=action, target=dataset, detail=detail, address=address)
    return public
