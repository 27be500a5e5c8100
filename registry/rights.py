"""The rights model: what a caller may do with a resource or a dataset — the one place that decides.

Rights on an item (a resource or a dataset) come from three things:

1. **Role.** Admins and the owner hold every right (`use`, `modify`, `own`); a grant to the caller or to
   everyone adds `use` or `modify` (`modify` implies `use`). A public item may be read by anyone.
2. **Derivation bounds.** An item made from others (a trained, edited or exported version's resource, an
   augmented dataset) has lineage edges to all its sources, transitively (`registry.models.Lineage`). A
   source *binds* while it is private and keeps `derivatives: private` (the default). Nobody but an admin may
   read an item one of whose binding sources they cannot read; its owner keeps only `own` (to see it listed,
   delete it or ask for access), never `use`. Nothing is deleted: when the source is made public, releases
   its derivatives, or grants again, the item is readable again.
3. **Download policy.** A resource marked `download: false` is run-only: its files — and the files of
   anything made from it — are presigned to its owner (and admins) alone.

The table of which action needs which role is `registry.rights_table.RULES`, rendered in docs/rights.md.
Every route and every flow step asks this module (through `registry.permissions.resource_for` and
`registry.dataset_permissions.dataset_for`, which apply it to one item).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, exists, not_
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, or_, select

from commons.errors import Conflict, Forbidden
from registry.groups import members_of
from registry.models import Dataset, DatasetGrant, Grant, Group, GroupMember, Lineage, Resource, User
from registry.schemas import SourcePublic

ItemType = Literal["resource", "dataset"]
Item = Resource | Dataset
ALL_RIGHTS = frozenset({"use", "modify", "own"})
OWNER_WHEN_BOUND = frozenset({"own"})
DERIVATIVE_POLICIES = ("private", "open")


def item_type(item: Item) -> ItemType:
    return "resource" if isinstance(item, Resource) else "dataset"


def describe(item: Item) -> str:
    return f"{item_type(item)} {item.name!r}"


@dataclass(frozen=True)
class Access:
    """The caller's rights on one item, and the private sources that keep them from reading it."""

    rights: frozenset[str]
    public: bool
    blocked_by: tuple[Item, ...] = ()

    @property
    def visible(self) -> bool:
        return bool(self.rights) or (self.public and not self.blocked_by)


def implied_rights(granted: Iterable[str]) -> frozenset[str]:
    """Granted rights plus what they imply: modify implies use (who may publish a version may run it)."""
    found = set(granted)
    if "modify" in found:
        found.add("use")
    return frozenset(found)


def _grant_table(kind: ItemType) -> type[Grant] | type[DatasetGrant]:
    return Grant if kind == "resource" else DatasetGrant


def grants_reaching(user: User | None, table: type[Grant] | type[DatasetGrant] = Grant) -> ColumnElement[bool]:
    """Grants that apply to the caller: those to everyone, to the caller by name, and to a group the caller is
    a member of (membership is read live: a member removed from a group loses the right at once)."""
    everyone = and_(col(table.grantee_id).is_(None), col(table.group_id).is_(None))
    if user is None:
        return everyone
    groups = select(GroupMember.group_id).where(GroupMember.user_id == user.id)
    return or_(everyone, col(table.grantee_id) == user.id, col(table.group_id).in_(groups))


def _base_rights(
    session: Session, kind: ItemType, items: Sequence[Item], user: User | None
) -> dict[str, frozenset[str]]:
    """Role-only rights (no derivation bounds), in at most one query."""
    if user is not None and user.is_admin:
        return {item.id: ALL_RIGHTS for item in items}
    owned = {item.id for item in items if user is not None and item.owner_id == user.id}
    others = [item.id for item in items if item.id not in owned]
    granted: dict[str, set[str]] = defaultdict(set)
    if others:
        table = _grant_table(kind)
        key = col(table.resource_id) if table is Grant else col(DatasetGrant.dataset_id)
        query = select(key, table.permission).where(key.in_(others), grants_reaching(user, table))
        for item_id, permission in session.exec(query).all():
            granted[item_id].add(permission)
    return {item.id: ALL_RIGHTS if item.id in owned else implied_rights(granted[item.id]) for item in items}


def binds(source: Item, *, owner_id: str) -> bool:
    """A source keeps what is made from it (by a user other than its owner: `owner_id` is the derivative's
    owner) to its own audience while it is private and has not released its derivatives."""
    return source.visibility != "public" and source.derivatives != "open" and source.owner_id != owner_id


def sources_of(session: Session, items: Sequence[tuple[ItemType, str]]) -> dict[tuple[ItemType, str], list[Item]]:
    """Every source (transitively) of each item, in three queries whatever their number."""
    found: dict[tuple[ItemType, str], list[Item]] = {key: [] for key in items}
    if not items:
        return found
    ids = {item_id for _, item_id in items}
    edges = [
        edge
        for edge in session.exec(select(Lineage).where(col(Lineage.item_id).in_(ids))).all()
        if (edge.item_type, edge.item_id) in found
    ]
    resource_ids = {edge.source_id for edge in edges if edge.source_type == "resource"}
    dataset_ids = {edge.source_id for edge in edges if edge.source_type == "dataset"}
    rows: dict[tuple[str, str], Item] = {}
    if resource_ids:
        rows.update(
            {("resource", r.id): r for r in session.exec(select(Resource).where(col(Resource.id).in_(resource_ids)))}
        )
    if dataset_ids:
        rows.update(
            {("dataset", d.id): d for d in session.exec(select(Dataset).where(col(Dataset.id).in_(dataset_ids)))}
        )
    for edge in edges:
        source = rows.get((edge.source_type, edge.source_id))
        if source is not None:  # a deleted source no longer binds: it has nothing left to protect
            found[(edge.item_type, edge.item_id)].append(source)  # type: ignore[index]
    return found


def access_many(session: Session, items: Sequence[Item], user: User | None) -> dict[str, Access]:
    """`Access` for many items of one type in a fixed number of queries: item id → Access."""
    if not items:
        return {}
    kind = item_type(items[0])
    base = _base_rights(session, kind, items, user)
    if user is not None and user.is_admin:
        return {item.id: Access(rights=ALL_RIGHTS, public=item.visibility == "public") for item in items}
    sources = sources_of(session, [(kind, item.id) for item in items])
    owner_of = {item.id: item.owner_id for item in items}
    binding = {
        key: [source for source in found if binds(source, owner_id=owner_of[key[1]])] for key, found in sources.items()
    }
    readable = _readable_sources(session, [s for found in binding.values() for s in found], user)
    unread = {key: [s for s in found if (item_type(s), s.id) not in readable] for key, found in binding.items()}
    lifted = _lifted_bounds(session, sources, unread, user)
    result: dict[str, Access] = {}
    for item in items:
        key = (kind, item.id)
        blocked = tuple(s for s in unread[key] if (item_type(s), s.id) not in lifted[key])
        rights = base[item.id]
        if blocked:
            rights = OWNER_WHEN_BOUND if "own" in rights else frozenset()
        result[item.id] = Access(rights=rights, public=item.visibility == "public", blocked_by=blocked)
    return result


def _lifted_bounds(
    session: Session,
    sources: dict[tuple[ItemType, str], list[Item]],
    unread: dict[tuple[ItemType, str], list[Item]],
    user: User | None,
) -> dict[tuple[ItemType, str], set[tuple[ItemType, str]]]:
    """The binding sources of each item that the caller cannot read but whose owner let them read something
    made from them on the item's lineage: a provider who grants `use` on a model trained on their private
    dataset lets the grantee read that dataset's mark in what they make from the model (an intermediate
    source owned by the dataset's owner, made from the dataset, that the caller may read). In a fixed
    number of queries."""
    lifted: dict[tuple[ItemType, str], set[tuple[ItemType, str]]] = {key: set() for key in sources}
    owners = {s.owner_id for found in unread.values() for s in found}
    middles = {
        (item_type(m), m.id): m for key, found in unread.items() if found for m in sources[key] if m.owner_id in owners
    }
    if not middles:
        return lifted
    made_from = sources_of(session, list(middles))
    readable = _readable_sources(session, list(middles.values()), user)
    for key, found in unread.items():
        for source in found:
            by_owner = [
                m
                for m in sources[key]
                if m.owner_id == source.owner_id and (item_type(m), m.id) in readable and m.id != source.id
            ]
            if any(source.id in {s.id for s in made_from[(item_type(m), m.id)]} for m in by_owner):
                lifted[key].add((item_type(source), source.id))
    return lifted


def _readable_sources(session: Session, sources: list[Item], user: User | None) -> set[tuple[ItemType, str]]:
    """The sources the caller may read on their own role (a source's own bounds are in the item's closure)."""
    readable: set[tuple[ItemType, str]] = set()
    for kind in ("resource", "dataset"):
        of_kind = list({s.id: s for s in sources if item_type(s) == kind}.values())
        if not of_kind:
            continue
        rights = _base_rights(session, kind, of_kind, user)
        readable |= {(kind, s.id) for s in of_kind if rights[s.id] or s.visibility == "public"}
    return readable


def access(session: Session, item: Item, user: User | None) -> Access:
    return access_many(session, [item], user)[item.id]


def rights(session: Session, item: Item, user: User | None) -> frozenset[str]:
    return access(session, item, user).rights


def not_bound_condition(kind: ItemType, user: User | None) -> ColumnElement[bool]:
    """A WHERE clause on a query of `kind` rows: the item has no binding source the caller cannot read."""
    item_table: Any = Resource if kind == "resource" else Dataset
    blocked: list[ColumnElement[bool]] = []
    for source_kind, table, grants in (("resource", Resource, Grant), ("dataset", Dataset, DatasetGrant)):
        source: Any = aliased(table)  # the outer query may be on the same table: no auto-correlation
        grant_key = col(Grant.resource_id) if grants is Grant else col(DatasetGrant.dataset_id)
        reachable: list[ColumnElement[bool]] = [source.id.in_(select(grant_key).where(grants_reaching(user, grants)))]
        if user is not None:
            reachable.append(source.owner_id == user.id)
        blocked.append(
            exists(
                select(Lineage.id)
                .join(source, source.id == col(Lineage.source_id))
                .where(
                    col(Lineage.item_type) == kind,
                    col(Lineage.item_id) == col(item_table.id),
                    col(Lineage.source_type) == source_kind,
                    source.visibility != "public",
                    source.derivatives != "open",
                    source.owner_id != col(item_table.owner_id),
                    not_(or_(*reachable)),
                    not_(_lifted_condition(kind, item_table, source_kind, source, user)),
                )
                .correlate(item_table)
            )
        )
    return and_(*(not_(condition) for condition in blocked))


def _lifted_condition(kind: ItemType, item_table: Any, source_kind: str, source: Any, user: User | None) -> Any:
    """SQL of `_lifted_bounds`: the item has, on its lineage, something made from `source` by `source`'s owner
    that the caller may read."""
    either: list[ColumnElement[bool]] = []
    for middle_kind, table, grants in (("resource", Resource, Grant), ("dataset", Dataset, DatasetGrant)):
        middle: Any = aliased(table)
        to_middle: Any = aliased(Lineage)
        to_source: Any = aliased(Lineage)
        grant_key = col(Grant.resource_id) if grants is Grant else col(DatasetGrant.dataset_id)
        readable = or_(
            middle.visibility == "public", middle.id.in_(select(grant_key).where(grants_reaching(user, grants)))
        )
        made_from_source = exists(
            select(to_source.id).where(
                to_source.item_type == middle_kind,
                to_source.item_id == middle.id,
                to_source.source_type == source_kind,
                to_source.source_id == source.id,
            )
        )
        either.append(
            exists(
                select(to_middle.id)
                .join(middle, middle.id == to_middle.source_id)
                .where(
                    to_middle.item_type == kind,
                    to_middle.item_id == col(item_table.id),
                    to_middle.source_type == middle_kind,
                    middle.owner_id == source.owner_id,
                    readable,
                    made_from_source,
                )
            )
        )
    return or_(*either)


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
    kind = item_type(item)
    found = sources if sources is not None else sources_of(session, [(kind, item.id)])[(kind, item.id)]
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
    the source, or something on the lineage that its owner made from it (see `_lifted_bounds`)."""
    if access(session, source, reader).visible:
        return True
    middles = [m for m in lineage if m.owner_id == source.owner_id and m.id != source.id]
    if not middles:
        return False
    made_from = sources_of(session, [(item_type(m), m.id) for m in middles])
    return any(
        source.id in {s.id for s in made_from[(item_type(m), m.id)]} and access(session, m, reader).visible
        for m in middles
    )


def check_open_audience(session: Session, item: Item, *, sources: Sequence[Item]) -> None:
    """Refuse (Conflict) when `item` is public or granted to anyone outside the audience of `sources` that bind
    it (a publish target about to receive a version made from them)."""
    if not any(binds(source, owner_id=item.owner_id) for source in sources):
        return
    if item.visibility == "public":
        check_audience(session, item, grantee=None, sources=sources)
    table = _grant_table(item_type(item))
    key = col(Grant.resource_id) if table is Grant else col(DatasetGrant.dataset_id)
    for grantee_id, group_id in session.exec(select(table.grantee_id, table.group_id).where(key == item.id)).all():
        grantee = session.get(User, grantee_id) if grantee_id else None
        group = session.get(Group, group_id) if group_id else None
        check_audience(session, item, grantee=grantee, group=group, sources=sources)


def record_lineage(session: Session, *, item: Item, sources: Sequence[Item], task_id: str | None) -> list[Item]:
    """Record that `item` was made from `sources`, and from everything they were made from; returns all of them."""
    kind = item_type(item)
    direct = [s for s in sources if not (item_type(s) == kind and s.id == item.id)]
    inherited = sources_of(session, [(item_type(s), s.id) for s in direct])
    closure: dict[tuple[ItemType, str], Item] = {}
    for source in direct:
        closure[(item_type(source), source.id)] = source
        for further in inherited[(item_type(source), source.id)]:
            closure[(item_type(further), further.id)] = further
    closure.pop((kind, item.id), None)
    existing = {
        (edge.source_type, edge.source_id)
        for edge in session.exec(select(Lineage).where(Lineage.item_type == kind, Lineage.item_id == item.id))
    }
    for (source_kind, source_id), _source in closure.items():
        if (source_kind, source_id) not in existing:
            session.add(
                Lineage(item_type=kind, item_id=item.id, source_type=source_kind, source_id=source_id, task_id=task_id)
            )
    session.flush()
    return list(closure.values())


def may_download(session: Session, resource: Resource, user: User | None) -> bool:
    """Whether the caller may have the resource's files (or task outputs carrying them) presigned: they may
    read it, and neither it nor anything it was made from is run-only for them."""
    if not access(session, resource, user).visible:
        return False
    if user is not None and user.is_admin:
        return True
    chain = [resource, *sources_of(session, [("resource", resource.id)])[("resource", resource.id)]]
    return all(r.download or (user is not None and r.owner_id == user.id) for r in chain if isinstance(r, Resource))


def check_files_readable(session: Session, resource: Resource, user: User | None) -> None:
    """Forbidden when the caller sees the resource only as the maker of a bound derivative (`own` without
    `use`): its files carry the bytes of a source they can no longer read."""
    found = access(session, resource, user)
    if found.blocked_by:
        source = found.blocked_by[0]
        raise Forbidden(
            f"{describe(resource)} is made from {describe(source)}, which you cannot read, so its files are not "
            "yours to download; ask the source's owner for access (nothing was deleted)"
        )


def run_only_owner(session: Session, resource: Resource, user: User | None) -> Resource | None:
    """The run-only resource (this one or a source) that keeps the caller from its files, or None."""
    chain = [resource, *sources_of(session, [("resource", resource.id)])[("resource", resource.id)]]
    for r in chain:
        if (
            isinstance(r, Resource)
            and not r.download
            and not (user is not None and (r.owner_id == user.id or user.is_admin))
        ):
            return r
    return None


def derivatives_of(session: Session, item: Item) -> list[tuple[ItemType, str]]:
    """The items recorded as made (directly or not) from `item`."""
    rows = session.exec(
        select(Lineage.item_type, Lineage.item_id).where(
            Lineage.source_type == item_type(item), Lineage.source_id == item.id
        )
    ).all()
    return [(kind, item_id) for kind, item_id in rows]  # type: ignore[misc]


def sources_public(session: Session, items: Sequence[Item], user: User | None) -> dict[str, list[SourcePublic]]:
    """What each item was made from, as `user` may see it (with owner names; a private source the caller cannot
    read shows only its type and owner), in a fixed number of queries."""
    if not items:
        return {}
    kind = item_type(items[0])
    found = sources_of(session, [(kind, item.id) for item in items])
    owner_ids = {source.owner_id for sources in found.values() for source in sources}
    owners = (
        dict(session.exec(select(User.id, User.username).where(col(User.id).in_(owner_ids))).all()) if owner_ids else {}
    )
    every = list({(item_type(s), s.id): s for sources in found.values() for s in sources}.values())
    readable = (
        {(item_type(s), s.id) for s in every}
        if user is not None and user.is_admin
        else _readable_sources(session, every, user)
    )

    def shown(item: Item, source: Item) -> SourcePublic:
        seen = (item_type(source), source.id) in readable
        return SourcePublic(
            type=item_type(source),
            id=source.id if seen else "",
            name=source.name if seen else "",
            owner=owners.get(source.owner_id, ""),
            binds=binds(source, owner_id=item.owner_id),
            readable=seen,
        )

    return {item.id: [shown(item, source) for source in found[(kind, item.id)]] for item in items}


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
