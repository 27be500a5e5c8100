"""Access requests across resources: the inbox of a provider (every resource they own; all for an admin)."""

from __future__ import annotations

from sqlmodel import Session, col, select

from registry.grants import request_public
from registry.models import AccessRequest, Resource, User
from registry.schemas import AccessRequestPublic


def inbox(session: Session, *, owner: User, status: str | None = None) -> list[AccessRequestPublic]:
    """The requests on every resource `owner` owns (every resource for an admin), newest first."""
    query = select(AccessRequest, Resource).where(col(AccessRequest.resource_id) == col(Resource.id))
    if not owner.is_admin:
        query = query.where(Resource.owner_id == owner.id)
    if status is not None:
        query = query.where(AccessRequest.status == status)
    rows = session.exec(query.order_by(col(AccessRequest.created_at).desc(), col(AccessRequest.id).desc())).all()
    return [request_public(session, item, resource) for item, resource in rows]
