"""Access requests on datasets: a caller who may see a dataset asks its owner for `use` or `modify` (for
themselves, or for a group they maintain); the owner approves (a grant) or denies. The rules are those of
resource requests (`registry.rights.requests`); each step tells the other side in their inbox."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, NotFound
from registry.clock import utcnow
from registry.groups import group_to_grant, role_in
from registry.models import Dataset, DatasetAccessRequest, Group, User
from registry.notifications import NotificationKind, notify
from registry.rights import Grantee, access, grant_on
from registry.views.base import view


class DatasetAccessRequestPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    id: str
    dataset: str = Field(description="The dataset's name.")
    dataset_id: str
    ref: str = Field(description="The dataset's owner/slug: where to approve or deny.")
    requester: str
    group: str | None = Field(default=None, description="The group asked for (approval grants the group).")
    permission: str
    message: str
    status: str
    created_at: datetime
    decided_by: str | None
    decided_at: datetime | None


def dataset_ref(session: Session, dataset: Dataset) -> str:
    owner = session.get(User, dataset.owner_id)
    return f"{owner.username if owner else ''}/{dataset.slug}"


def dataset_page(session: Session, dataset: Dataset) -> str:
    """The dataset's page, where its owner decides requests: /datasets/owner/slug."""
    return "/datasets/" + "/".join(quote(part, safe="") for part in dataset_ref(session, dataset).split("/"))


def _asked(session: Session, request: DatasetAccessRequest, dataset: Dataset) -> str:
    """ "use of dataset alice/pets", or "… for group lab" for a request on a group's behalf."""
    group = _group_name(session, request)
    asked = f"{request.permission} of dataset {dataset_ref(session, dataset)}"
    return asked + (f" for group {group}" if group else "")


def request_view(session: Session, item: DatasetAccessRequest, dataset: Dataset) -> DatasetAccessRequestPublic:
    requester = session.get(User, item.requester_id)
    decider = session.get(User, item.decided_by) if item.decided_by else None
    return view(
        DatasetAccessRequestPublic,
        item,
        dataset=dataset.name,
        ref=dataset_ref(session, dataset),
        requester=requester.username if requester else "",
        group=_group_name(session, item),
        decided_by=decider.username if decider else None,
    )


def _group_name(session: Session, item: DatasetAccessRequest) -> str | None:
    if item.group_id is None:
        return None
    group = session.get(Group, item.group_id)
    return group.name if group else ""


def request_target(session: Session, dataset: Dataset, requester: User) -> Dataset:
    """The dataset a request on `dataset` goes to: someone who sees it only as the maker of an augmented copy
    of a private dataset they can no longer read needs the right on that source, from its owner."""
    blocked = access(session, dataset, requester).blocked_by
    if not blocked:
        return dataset
    source = blocked[0]
    if isinstance(source, Dataset):
        return source
    owner = session.get(User, source.owner_id)
    raise Conflict(
        f"{dataset.name!r} is made from {source.name!r}, which you cannot read; ask "
        f"{owner.username if owner else 'its owner'} to share it with you (a grant to your user name)"
    )


def request_dataset_access(
    session: Session, *, dataset: Dataset, requester: User, permission: str, message: str, group: str | None = None
) -> DatasetAccessRequest:
    """Ask the owner for `permission`, for oneself or (`group`) for a group one maintains; the owner is told."""
    on_behalf = None
    if group is not None:
        on_behalf = group_to_grant(session, group)
        if role_in(session, on_behalf, requester) != "maintainer":
            raise Forbidden(f"only a maintainer of group {group!r} may ask for it", field="group")
    pending = session.exec(
        select(DatasetAccessRequest).where(
            DatasetAccessRequest.dataset_id == dataset.id,
            DatasetAccessRequest.requester_id == requester.id,
            DatasetAccessRequest.permission == permission,
            DatasetAccessRequest.status == "pending",
            col(DatasetAccessRequest.group_id).is_(None)
            if on_behalf is None
            else DatasetAccessRequest.group_id == on_behalf.id,
        )
    ).first()
    if pending is not None:
        raise Conflict(f"you already asked for {permission!r} on dataset {dataset.name!r}; wait for the owner's answer")
    created = DatasetAccessRequest(
        dataset_id=dataset.id,
        requester_id=requester.id,
        group_id=on_behalf.id if on_behalf else None,
        permission=permission,
        message=message,
    )
    session.add(created)
    session.flush()
    if dataset.owner_id != requester.id:
        text = f"{requester.username} asks for {_asked(session, created, dataset)}"
        text += f": “{message}”" if message else ""
        notify(
            session,
            user_id=dataset.owner_id,
            kind=NotificationKind.ACCESS_REQUESTED,
            text=text,
            link=dataset_page(session, dataset),
        )
    return created


def list_dataset_requests(
    session: Session, *, dataset: Dataset, viewer: User, is_owner: bool, status: str | None
) -> list[DatasetAccessRequest]:
    """The owner sees every request on the dataset; anyone else their own. Oldest first."""
    query = select(DatasetAccessRequest).where(DatasetAccessRequest.dataset_id == dataset.id)
    if not is_owner:
        query = query.where(DatasetAccessRequest.requester_id == viewer.id)
    if status is not None:
        query = query.where(DatasetAccessRequest.status == status)
    return list(session.exec(query.order_by(col(DatasetAccessRequest.created_at), col(DatasetAccessRequest.id))))


def decide_dataset_request(
    session: Session, *, dataset: Dataset, request_id: str, approve: bool, actor: User
) -> DatasetAccessRequest:
    """Approve (grant what was asked, to the requester or their group) or deny a pending request; the
    requester is told either way."""
    found = session.get(DatasetAccessRequest, request_id)
    if found is None or found.dataset_id != dataset.id:
        raise NotFound(f"no access request {request_id!r} on dataset {dataset.name!r}")
    if found.status != "pending":
        raise Conflict(f"access request {request_id!r} was already {found.status}")
    found.status = "approved" if approve else "denied"
    found.decided_by = actor.id
    found.decided_at = utcnow()
    session.add(found)
    if approve:
        grant_on(session, dataset, grantee=_asked_for(session, found), permission=found.permission, actor=actor)
    session.flush()
    verdict = "approved" if approve else "denied"
    notify(
        session,
        user_id=found.requester_id,
        kind=NotificationKind.ACCESS_APPROVED if approve else NotificationKind.ACCESS_DENIED,
        text=f"{actor.username} {verdict} your request for {_asked(session, found, dataset)}",
        link=dataset_page(session, dataset),
    )
    return found


def _asked_for(session: Session, request: DatasetAccessRequest) -> Grantee:
    """Whom an approved request grants to: the requester, or the group they asked for."""
    requester = session.get(User, request.requester_id)
    if requester is None:
        raise NotFound("the requesting user no longer exists")
    if request.group_id is None:
        return Grantee(user=requester)
    on_behalf = session.get(Group, request.group_id)
    if on_behalf is None:
        raise NotFound("the group this request names no longer exists")
    return Grantee(group=on_behalf)
