"""Resources as the API shows them: owner, address, latest version, the caller's rights, sources."""

from __future__ import annotations

from sqlalchemy import func
from sqlmodel import Session, col, select

from registry.models import Resource, ResourceVersion, User
from registry.rights import rights_on_many, sources_public
from registry.schemas import ResourcePublic
from registry.views.base import view


def resource_view(session: Session, resource: Resource, user: User | None) -> ResourcePublic:
    return resource_views(session, [resource], user)[0]


def resource_views(session: Session, resources: list[Resource], user: User | None) -> list[ResourcePublic]:
    """The view of each resource, in order, in a fixed number of queries whatever their number (owners,
    latest version numbers, the caller's grants, the lineage and its sources) instead of several per resource."""
    if not resources:
        return []
    ids = [resource.id for resource in resources]
    owner_ids = {resource.owner_id for resource in resources}
    owners = dict(session.exec(select(User.id, User.username).where(col(User.id).in_(owner_ids))).all())
    latest = dict(
        session.exec(
            select(ResourceVersion.resource_id, func.max(ResourceVersion.number))
            .where(col(ResourceVersion.resource_id).in_(ids))
            .group_by(col(ResourceVersion.resource_id))
        ).all()
    )
    granted = rights_on_many(session, resources, user)
    sources = sources_public(session, resources, user)
    return [
        view(
            ResourcePublic,
            resource,
            owner=owners.get(resource.owner_id, ""),
            ref=f"{owners.get(resource.owner_id, '')}/{resource.name}",
            latest_version=latest.get(resource.id),
            permissions=sorted(granted[resource.id]),
            sources=sources[resource.id],
        )
        for resource in resources
    ]
