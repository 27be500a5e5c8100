"""What each item was made from: the transitive `lineage` table (`registry.models.Lineage`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from registry.models import Lineage
from registry.rights.items import PROTECTED, Item, ItemType, item_type, key


def sources_of(session: Session, items: Sequence[tuple[ItemType, str]]) -> dict[tuple[ItemType, str], list[Item]]:
    """Every source (transitively) of each item, in three queries whatever their number."""
    found: dict[tuple[ItemType, str], list[Item]] = {item: [] for item in items}
    if not items:
        return found
    ids = {item_id for _, item_id in items}
    edges = [
        edge
        for edge in session.exec(select(Lineage).where(col(Lineage.item_id).in_(ids))).all()
        if (edge.item_type, edge.item_id) in found
    ]
    rows: dict[tuple[str, str], Item] = {}
    for kind, spec in PROTECTED.items():
        wanted = {edge.source_id for edge in edges if edge.source_type == kind}
        if wanted:
            rows.update(
                {(kind, row.id): row for row in session.exec(select(spec.table).where(spec.table.id.in_(wanted)))}
            )
    for edge in edges:
        source = rows.get((edge.source_type, edge.source_id))
        if source is not None:  # a deleted source no longer binds: it has nothing left to protect
            found[(edge.item_type, edge.item_id)].append(source)  # type: ignore[index]
    return found


def record_lineage(session: Session, *, item: Item, sources: Sequence[Item], task_id: str | None) -> list[Item]:
    """Record that `item` was made from `sources`, and from everything they were made from; returns all of them."""
    kind = item_type(item)
    direct = [s for s in sources if key(s) != key(item)]
    inherited = sources_of(session, [key(s) for s in direct])
    closure: dict[tuple[ItemType, str], Item] = {}
    for source in direct:
        closure[key(source)] = source
        for further in inherited[key(source)]:
            closure[key(further)] = further
    closure.pop(key(item), None)
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


def derivatives_of(session: Session, item: Item) -> list[tuple[ItemType, str]]:
    """The items recorded as made (directly or not) from `item`."""
    rows = session.exec(
        select(Lineage.item_type, Lineage.item_id).where(
            Lineage.source_type == item_type(item), Lineage.source_id == item.id
        )
    ).all()
    return [(kind, item_id) for kind, item_id in rows]  # type: ignore[misc]
