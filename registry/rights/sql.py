"""The decision as SQL, for list pages: which rows of a table the caller may see, in the query itself."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, exists, not_
from sqlalchemy.orm import aliased
from sqlmodel import col, or_, select

from registry.models import Lineage, User
from registry.rights.decision import grants_reaching
from registry.rights.items import PROTECTED, ItemType


def visible_condition(kind: ItemType, user: User | None) -> ColumnElement[bool] | None:
    """A WHERE clause selecting the rows of `kind` that `user` may see (None: every row, for admins): their own,
    and the public or granted ones that no private source keeps from them."""
    if user is not None and user.is_admin:
        return None
    spec = PROTECTED[kind]
    reached = col(spec.table.id).in_(select(spec.grant_item).where(grants_reaching(user, spec.grants)))
    readable = and_(or_(col(spec.table.visibility) == "public", reached), not_bound_condition(kind, user))
    if user is None:
        return readable
    return or_(col(spec.table.owner_id) == user.id, readable)


def not_bound_condition(kind: ItemType, user: User | None) -> ColumnElement[bool]:
    """A WHERE clause on a query of `kind` rows: the item has no binding source the caller cannot read."""
    item_table: Any = PROTECTED[kind].table
    blocked: list[ColumnElement[bool]] = []
    for source_kind, spec in PROTECTED.items():
        source: Any = aliased(spec.table)  # the outer query may be on the same table: no auto-correlation
        reachable: list[ColumnElement[bool]] = [
            source.id.in_(select(spec.grant_item).where(grants_reaching(user, spec.grants)))
        ]
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
    """SQL of `registry.rights.decision._lifted_bounds`: the item has, on its lineage, something made from
    `source` by `source`'s owner that the caller may read."""
    either: list[ColumnElement[bool]] = []
    for middle_kind, spec in PROTECTED.items():
        middle: Any = aliased(spec.table)
        to_middle: Any = aliased(Lineage)
        to_source: Any = aliased(Lineage)
        readable = or_(
            middle.visibility == "public",
            middle.id.in_(select(spec.grant_item).where(grants_reaching(user, spec.grants))),
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
