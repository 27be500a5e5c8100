"""Access requests across resources: the inbox of a provider (every resource they own; all for an admin)."""

from __future__ import annotations

from sqlmodel import Session, col, or_, select

from registry.models import AccessRequest, Dataset, Lineage, Resource, User
from registry.schemas import AccessRequestPublic
from registry.views.grants import access_request_view


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
    found = [access_request_view(session, item, resource) for item, resource in rows]
    others = {resource.id for _, resource in rows if resource.owner_id != owner.id}
    if others and not owner.is_admin:
        mine = _own_sources(session, owner, others)
        for shown, (_, resource) in zip(found, rows, strict=True):
            shown.made_from_yours = mine.get(resource.id)
    return found


def _own_sources(session: Session, owner: User, resource_ids: set[str]) -> dict[str, str]:
    """For each resource, the name of one of `owner`'s resources or datasets it was made from."""
    edges = session.exec(
        select(Lineage).where(Lineage.item_type == "resource", col(Lineage.item_id).in_(resource_ids))
    ).all()
    names: dict[tuple[str, str], str] = {}
    for kind, table in (("resource", Resource), ("dataset", Dataset)):
        ids = {e.source_id for e in edges if e.source_type == kind}
        if ids:
            query = select(table.id, table.name).where(col(table.id).in_(ids), table.owner_id == owner.id)
            names.update({(kind, row_id): f"{kind} {name}" for row_id, name in session.exec(query).all()})
    found: dict[str, str] = {}
    for edge in edges:
        name = names.get((edge.source_type, edge.source_id))
        if name is not None:
            found.setdefault(edge.item_id, name)
    return found
