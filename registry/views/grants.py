"""Grants and access requests as the API shows them: users and groups by name instead of ids."""

from __future__ import annotations

from sqlmodel import Session

from registry.models import Dataset, DatasetGrant, Grant, Resource, User
from registry.notification_events import item_ref
from registry.rights import RequestRow, grantee_names
from registry.schemas import AccessRequestPublic, DatasetAccessRequestPublic, GrantPublic
from registry.views.base import view


def grant_view(session: Session, item: Grant | DatasetGrant) -> GrantPublic:
    """A grant on a resource or a dataset, with user and group names instead of ids."""
    username, group = grantee_names(session, item)
    creator = session.get(User, item.created_by)
    return view(GrantPublic, item, username=username, group=group, created_by=creator.username if creator else "")


def access_request_view(session: Session, item: RequestRow, resource: Resource) -> AccessRequestPublic:
    requester = session.get(User, item.requester_id)
    decider = session.get(User, item.decided_by) if item.decided_by else None
    owner = session.get(User, resource.owner_id)
    return view(
        AccessRequestPublic,
        item,
        resource=resource.name,
        ref=f"{owner.username if owner else ''}/{resource.name}",
        requester=requester.username if requester else "",
        group=grantee_names(session, item)[1],
        decided_by=decider.username if decider else None,
    )


def dataset_access_request_view(session: Session, item: RequestRow, dataset: Dataset) -> DatasetAccessRequestPublic:
    """A request on a dataset, with user and group names instead of ids."""
    requester = session.get(User, item.requester_id)
    decider = session.get(User, item.decided_by) if item.decided_by else None
    return view(
        DatasetAccessRequestPublic,
        item,
        dataset=dataset.name,
        dataset_id=dataset.id,
        ref=item_ref(session, dataset),
        requester=requester.username if requester else "",
        group=grantee_names(session, item)[1],
        decided_by=decider.username if decider else None,
    )
