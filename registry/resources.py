"""Resources: create, update, list what a caller may see (their views: `registry.views.resources`)."""

from __future__ import annotations

from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from commons.errors import Conflict
from registry.models import Resource, ResourceVersion, User
from registry.rights import check_policy_change, visible_condition
from registry.schemas import ResourceCreate, ResourceUpdate


def create_resource(session: Session, *, owner: User, spec: ResourceCreate) -> Resource:
    """A new resource of `owner`; names are unique per owner (addressed as owner/name), so a name taken by
    someone else — private or not — is no obstacle and nothing is told about it."""
    taken = select(Resource).where(Resource.owner_id == owner.id, Resource.name == spec.name)
    if session.exec(taken).first() is not None:
        raise Conflict(f"you already have a resource named {spec.name!r}; choose another name", field="name")
    resource = Resource(**spec.model_dump(), owner_id=owner.id)
    session.add(resource)
    try:
        session.flush()
    except IntegrityError as error:
        raise Conflict(f"you already have a resource named {spec.name!r}; choose another name", field="name") from error
    return resource


def update_resource(session: Session, *, resource: Resource, changes: ResourceUpdate, actor: User) -> Resource:
    """Apply `changes`; visibility and the derivatives/download policy are the owner's (see `registry.rights`)."""
    requested = changes.model_dump(exclude_unset=True)
    check_policy_change(session, resource, changes=requested, actor=actor, owner_fields=ResourceUpdate.OWNER_FIELDS)
    for field, value in requested.items():
        if value is not None:
            setattr(resource, field, value)
    session.add(resource)
    session.flush()
    return resource


def list_visible(session: Session, user: User | None, *, limit: int, offset: int) -> list[Resource]:
    """The resources `user` may see, newest first (the rule of `registry.rights.visible_condition`)."""
    query = select(Resource).order_by(col(Resource.created_at).desc(), col(Resource.name))
    visible = visible_condition("resource", user)
    if visible is not None:
        query = query.where(visible)
    return list(session.exec(query.offset(offset).limit(limit)).all())


def latest_version_number(session: Session, resource_id: str) -> int | None:
    return session.exec(
        select(func.max(ResourceVersion.number)).where(ResourceVersion.resource_id == resource_id)
    ).one()
