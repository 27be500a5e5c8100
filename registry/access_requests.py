"""Access requests across resources: the inbox of a provider (every resource they own; all for an admin)."""

from __future__ import annotations

from sqlmodel import Session, col, or_, select

from registry.grants import request_public
from registry.models import AccessRequest, Dataset, Lineage, Resource, User
from registry.schemas import AccessRequestPublic


def inbox(session: Session, *, owner: User, status: str | None = None) -> list[AccessRequestPublic]:
    """The requests on every resource `owner` owns, and on every resource made from one of their resources or
    datasets (the derivative's owner decides, but the source's owner should know: granting the source, or
    releasing its derivatives, is what lets the requester read it); every request for an admin; newest first."""
    query = select(AccessRequest, Resource).where(col(AccessRequest.resource_id) == col(Resource.id))
    if not owner.is_admin:
        owned_sources = or_(
            col(Lineage.source_id).in_(select(Resource.id).where(Resource.owner_id == owner.id)),
            col(Lineage.source_id).in_(select(Dataset.id).where(Dataset.owner_id == owner.id)),
        )
        derived = select(Lineage.item_id).where(Lineage.item_type == "resource", owned_sources)
        query = query.where(or_(Resource.owner_id == owner.id, col(Resource.id).in_(derived)))
    if status is not None:
        query = query.where(AccessRequest.status == status)
    rows = session.exec(query.order_by(col(AccessRequest.created_at).desc(), col(AccessRequest.id).desc())).all()
    return [request_public(session, item, resource) for item, resource in rows]
