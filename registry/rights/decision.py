"""The decision: a caller's rights on items, from their role and the derivation bounds of what they were made
from (see the package's docstring)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_
from sqlmodel import Session, col, or_, select

from registry.models import DatasetGrant, Grant, GroupMember, User
from registry.rights.items import PROTECTED, Item, ItemType, item_type, key
from registry.rights.lineage import sources_of

ALL_RIGHTS = frozenset({"use", "modify", "own"})
OWNER_WHEN_BOUND = frozenset({"own"})


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


def grants_reaching(user: User | None, table: type[Grant] | type[DatasetGrant] = Grant) -> ColumnElement[bool]:
    """Grants that apply to the caller: those to everyone, to the caller by name, and to a group the caller is
    a member of (membership is read live: a member removed from a group loses the right at once)."""
    everyone = and_(col(table.grantee_id).is_(None), col(table.group_id).is_(None))
    if user is None:
        return everyone
    groups = select(GroupMember.group_id).where(GroupMember.user_id == user.id)
    return or_(everyone, col(table.grantee_id) == user.id, col(table.group_id).in_(groups))


def base_rights(
    session: Session, kind: ItemType, items: Sequence[Item], user: User | None
) -> dict[str, frozenset[str]]:
    """Role-only rights (no derivation bounds) on items of one type, in at most one query."""
    if user is not None and user.is_admin:
        return {item.id: ALL_RIGHTS for item in items}
    owned = {item.id for item in items if user is not None and item.owner_id == user.id}
    others = [item.id for item in items if item.id not in owned]
    granted: dict[str, set[str]] = defaultdict(set)
    if others:
        spec = PROTECTED[kind]
        query = select(spec.grant_item, spec.grants.permission).where(
            spec.grant_item.in_(others), grants_reaching(user, spec.grants)
        )
        for item_id, permission in session.exec(query).all():
            granted[item_id].add(permission)
    return {item.id: ALL_RIGHTS if item.id in owned else implied_rights(granted[item.id]) for item in items}


def binds(source: Item, *, owner_id: str) -> bool:
    """A source keeps what is made from it (by a user other than its owner: `owner_id` is the derivative's
    owner) to its own audience while it is private and has not released its derivatives."""
    return source.visibility != "public" and source.derivatives != "open" and source.owner_id != owner_id


def readable_sources(session: Session, sources: list[Item], user: User | None) -> set[tuple[ItemType, str]]:
    """The sources the caller may read on their own role (a source's own bounds are in the item's closure)."""
    readable: set[tuple[ItemType, str]] = set()
    for kind in PROTECTED:
        of_kind = list({s.id: s for s in sources if item_type(s) == kind}.values())
        if not of_kind:
            continue
        rights = base_rights(session, kind, of_kind, user)
        readable |= {(kind, s.id) for s in of_kind if rights[s.id] or s.visibility == "public"}
    return readable


def access_many(session: Session, items: Sequence[Item], user: User | None) -> dict[str, Access]:
    """`Access` for many items of one type in a fixed number of queries: item id → Access."""
    if not items:
        return {}
    kind = item_type(items[0])
    base = base_rights(session, kind, items, user)
    if user is not None and user.is_admin:
        return {item.id: Access(rights=ALL_RIGHTS, public=item.visibility == "public") for item in items}
    sources = sources_of(session, [key(item) for item in items])
    owner_of = {item.id: item.owner_id for item in items}
    binding = {
        item_key: [source for source in found if binds(source, owner_id=owner_of[item_key[1]])]
        for item_key, found in sources.items()
    }
    readable = readable_sources(session, [s for found in binding.values() for s in found], user)
    unread = {item: [s for s in found if key(s) not in readable] for item, found in binding.items()}
    lifted = _lifted_bounds(session, sources, unread, user)
    result: dict[str, Access] = {}
    for item in items:
        blocked = tuple(s for s in unread[key(item)] if key(s) not in lifted[key(item)])
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
    lifted: dict[tuple[ItemType, str], set[tuple[ItemType, str]]] = {item: set() for item in sources}
    owners = {s.owner_id for found in unread.values() for s in found}
    middles = {key(m): m for item, found in unread.items() if found for m in sources[item] if m.owner_id in owners}
    if not middles:
        return lifted
    made_from = sources_of(session, list(middles))
    readable = readable_sources(session, list(middles.values()), user)
    for item, found in unread.items():
        for source in found:
            by_owner = [
                m for m in sources[item] if m.owner_id == source.owner_id and key(m) in readable and m.id != source.id
            ]
            if any(source.id in {s.id for s in made_from[key(m)]} for m in by_owner):
                lifted[item].add(key(source))
    return lifted


def access(session: Session, item: Item, user: User | None) -> Access:
    return access_many(session, [item], user)[item.id]


def rights(session: Session, item: Item, user: User | None) -> frozenset[str]:
    """The caller's rights: the owner and admins have all; grants to the user, a group of theirs or everyone add
    more (modify implies use); a binding private source the caller cannot read takes them away."""
    return access(session, item, user).rights


def rights_on_many(session: Session, items: Sequence[Item], user: User | None) -> dict[str, frozenset[str]]:
    """`rights` for many items of one type in a fixed number of queries: item id → the caller's rights."""
    return {item_id: found.rights for item_id, found in access_many(session, items, user).items()}
