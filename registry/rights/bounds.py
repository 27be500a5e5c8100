"""Derivation bounds: a private source keeps what is made from it within its own audience. Refusals to open an
item beyond that audience, the owner-only policy fields, and what an item shows of its sources."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden
from registry.groups import members_of
from registry.models import Group, User
from registry.rights.decision import access, binds, readable_sources
from registry.rights.items import Item, describe, item_type, key, protected
from registry.rights.lineage import sources_of
from registry.schemas import SourcePublic


def bound_message(item: Item, source: Item, owner_name: str) -> str:
    return (
        f"{describe(item)} is made from {describe(source)} of {owner_name}, which is private and keeps what is made "
        f"from it to its own audience; ask {owner_name} for access to {source.name!r}, or to release its "
        "derivatives (derivatives: open)"
    )


def check_audience(
    session: Session,
    item: Item,
    *,
    grantee: User | None,
    group: Group | None = None,
    sources: Sequence[Item] | None = None,
) -> None:
    """Refuse (Conflict naming the source and its owner) to open `item` to `grantee`, to every member of
    `group`, or (both None) to everyone — making it public or granting to '*' — beyond the audience of any
    binding source. `sources` overrides the item's recorded ones (a publish target about to receive new
    sources)."""
    found = sources if sources is not None else sources_of(session, [key(item)])[key(item)]
    binding = [source for source in found if binds(source, owner_id=item.owner_id)]
    if not binding:
        return
    if group is not None:
        audience = members_of(session, group)
        label = f"group {group.name!r} (every member must be able to read it)"
    elif grantee is not None:
        audience, label = [grantee], f"user {grantee.username!r}"
    else:
        audience, label = [], "everyone"
    for source in binding:
        if (grantee is None and group is None) or not all(
            member.is_admin or _reaches(session, source, member, lineage=found) for member in audience
        ):
            owner = session.get(User, source.owner_id)
            owner_name = owner.username if owner else "its owner"
            raise Conflict(f"{bound_message(item, source, owner_name)}; it cannot be opened to {label}")


def _reaches(session: Session, source: Item, reader: User, *, lineage: Sequence[Item]) -> bool:
    """Whether `reader` is within `source`'s audience for an item whose sources are `lineage`: they may read
    the source, or something on the lineage that its owner made from it (see `decision._lifted_bounds`)."""
    if access(session, source, reader).visible:
        return True
    middles = [m for m in lineage if m.owner_id == source.owner_id and m.id != source.id]
    if not middles:
        return False
    made_from = sources_of(session, [key(m) for m in middles])
    return any(source.id in {s.id for s in made_from[key(m)]} and access(session, m, reader).visible for m in middles)


def check_open_audience(session: Session, item: Item, *, sources: Sequence[Item]) -> None:
    """Refuse (Conflict) when `item` is public or granted to anyone outside the audience of `sources` that bind
    it (a publish target about to receive a version made from them)."""
    if not any(binds(source, owner_id=item.owner_id) for source in sources):
        return
    if item.visibility == "public":
        check_audience(session, item, grantee=None, sources=sources)
    spec = protected(item)
    query = select(spec.grants.grantee_id, spec.grants.group_id).where(spec.grant_item == item.id)
    for grantee_id, group_id in session.exec(query).all():
        grantee = session.get(User, grantee_id) if grantee_id else None
        group = session.get(Group, group_id) if group_id else None
        check_audience(session, item, grantee=grantee, group=group, sources=sources)


def check_policy_change(
    session: Session, item: Item, *, changes: dict[str, object], actor: User, owner_fields: frozenset[str]
) -> None:
    """Only the owner (or an admin) changes visibility or the derivatives/download policy; a bound derivative
    cannot be made public."""
    touched = sorted(field for field in owner_fields if changes.get(field) is not None)
    if touched and not (actor.is_admin or actor.id == item.owner_id):
        raise Forbidden(
            f"only the owner of {describe(item)} may change {', '.join(touched)}; `modify` lets you publish "
            "versions and edit the description"
        )
    if changes.get("visibility") == "public" and item.visibility != "public":
        check_audience(session, item, grantee=None)


def sources_public(session: Session, items: Sequence[Item], user: User | None) -> dict[str, list[SourcePublic]]:
    """What each item was made from, as `user` may see it (with owner names; a private source the caller cannot
    read shows only its type and owner), in a fixed number of queries."""
    if not items:
        return {}
    found = sources_of(session, [key(item) for item in items])
    owner_ids = {source.owner_id for sources in found.values() for source in sources}
    owners = (
        dict(session.exec(select(User.id, User.username).where(col(User.id).in_(owner_ids))).all()) if owner_ids else {}
    )
    every = list({key(s): s for sources in found.values() for s in sources}.values())
    readable = {key(s) for s in every} if user is not None and user.is_admin else readable_sources(session, every, user)

    def shown(item: Item, source: Item) -> SourcePublic:
        seen = key(source) in readable
        return SourcePublic(
            type=item_type(source),
            id=source.id if seen else "",
            name=source.name if seen else "",
            owner=owners.get(source.owner_id, ""),
            binds=binds(source, owner_id=item.owner_id),
            readable=seen,
        )

    return {item.id: [shown(item, source) for source in found[key(item)]] for item in items}
