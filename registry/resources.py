"""Resources: create, list what a caller may see, describe."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from commons.errors import Conflict
from registry.models import Grant, Resource, ResourceVersion, User
from registry.permissions import grants_reaching, rights_on_many
from registry.schemas import ResourceCreate, ResourcePublic, ResourceUpdate


def create_resource(session: Session, *, owner: User, spec: ResourceCreate) -> Resource:
    if session.exec(select(Resource).where(Resource.name == spec.name)).first() is not None:
        raise Conflict(f"a resource named {spec.name!r} exists; choose another name", field="name")
    resource = Resource(**spec.model_dump(), owner_id=owner.id)
    session.add(resource)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"a resource named {spec.name!r} exists; choose another name", field="name") from error
    return resource


def update_resource(session: Session, *, resource: Resource, changes: ResourceUpdate) -> Resource:
    for field, value in changes.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(resource, field, value)
    session.add(resource)
    session.flush()
    return resource


def list_visible(session: Session, user: User | None, *, limit: int, offset: int) -> list[Resource]:
    query = select(Resource).order_by(col(Resource.created_at).desc(), col(Resource.name))
    if user is None or not user.is_admin:
        conditions: list[ColumnElement[bool]] = [col(Resource.visibility) == "public"]
        if user is not None:
            conditions.append(col(Resource.owner_id) == user.id)
        conditions.append(col(Resource.id).in_(select(Grant.resource_id).where(grants_reaching(user))))
        query = query.where(or_(*conditions))
    return list(session.exec(query.offset(offset).limit(limit)).all())


def latest_version_number(session: Session, resource_id: str) -> int | None:
    return session.exec(
        select(func.max(ResourceVersion.number)).where(ResourceVersion.resource_id == resource_id)
    ).one()


def to_public(session: Session, resource: Resource, user: User | None) -> ResourcePublic:
    return to_public_many(session, [resource], user)[0]


def to_public_many(session: Session, resources: list[Resource], user: User | None) -> list[ResourcePublic]:
    """The public view of each resource, in order, in three queries whatever their number (owners, latest
    version numbers, the caller's grants) instead of three per resource."""
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
    return [
        ResourcePublic(
            id=resource.id,
            name=resource.name,
            kind=resource.kind,
            title=resource.title,
            description=resource.description,
            citation=resource.citation,
            license=resource.license,
            visibility=resource.visibility,
            owner=owners.get(resource.owner_id, ""),
            created_at=resource.created_at,
            latest_version=latest.get(resource.id),
            permissions=sorted(granted[resource.id]),
        )
        for resource in resources
    ]
