"""Access requests on a resource or a dataset (one table each, one set of functions for both): a caller asks the
item's owner for a right (for themselves, or for a group they maintain); the owner approves (a grant) or denies.
Every decision records who and when; the owner hears of a request and the requester of its answer in their inbox
(registry.notification_events). Calls name the item by keyword: `resource=` or `dataset=`."""

from __future__ import annotations

from typing import TypeVar

from sqlmodel import Session, col

from commons.errors import Conflict, Forbidden, NotFound
from registry.clock import utcnow
from registry.groups import group_to_grant, role_in
from registry.models import Dataset, Group, Resource, User
from registry.notification_events import access_decided, access_requested
from registry.rights.decision import access
from registry.rights.grants import Grantee, grant_on
from registry.rights.items import RequestRow, describe, item_type, one_item, protected, requested_item_id
from registry.webhooks import events as webhook_events

ItemT = TypeVar("ItemT", Resource, Dataset)


def request_target(session: Session, item: ItemT, requester: User) -> ItemT:
    """The item a request on `item` should go to. Someone who sees it only as the maker of a bound derivative
    needs the right on the source that binds it, from that source's owner: asking the derivative's owner (often
    themselves) could never help. A binding source of another kind (a dataset binding a resource) takes no
    requests here: Conflict saying whom to ask."""
    blocked = access(session, item, requester).blocked_by
    if not blocked:
        return item
    source = blocked[0]
    if isinstance(source, type(item)):
        return source
    owner = session.get(User, source.owner_id)
    raise Conflict(
        f"{item.name!r} is made from {describe(source)}, which you cannot read; ask "
        f"{owner.username if owner else 'its owner'} to share that {item_type(source)} with you (a grant to your "
        "user name)"
    )


def request_access(
    session: Session,
    *,
    resource: Resource | None = None,
    dataset: Dataset | None = None,
    requester: User,
    permission: str,
    message: str,
    group: str | None = None,
) -> RequestRow:
    """Ask the owner for `permission`, for oneself or (`group`) for a group one maintains."""
    item = one_item(resource, dataset)
    on_behalf = None
    if group is not None:
        on_behalf = group_to_grant(session, group)
        if role_in(session, on_behalf, requester) != "maintainer":
            raise Forbidden(f"only a maintainer of group {group!r} may ask for it", field="group")
    spec = protected(item)
    pending = session.exec(
        spec.requests_on(item.id).where(
            col(spec.requests.requester_id) == requester.id,
            col(spec.requests.permission) == permission,
            col(spec.requests.status) == "pending",
            col(spec.requests.group_id).is_(None) if on_behalf is None else col(spec.requests.group_id) == on_behalf.id,
        )
    ).first()
    if pending is not None:
        raise Conflict(f"you already asked for {permission!r} on {describe(item)}; wait for the owner's answer")
    created = spec.new_request(
        item.id,
        requester_id=requester.id,
        group_id=on_behalf.id if on_behalf else None,
        permission=permission,
        message=message,
    )
    session.add(created)
    session.flush()
    access_requested(session, request=created, item=item, requester=requester)
    webhook_events.access_requested(session, request=created, item=item, requester=requester)
    return created


def list_requests(
    session: Session,
    *,
    resource: Resource | None = None,
    dataset: Dataset | None = None,
    viewer: User,
    is_owner: bool,
    status: str | None,
) -> list[RequestRow]:
    """The owner sees every request on the item; anyone else their own. Oldest first."""
    spec = protected(one_item(resource, dataset))
    query = spec.requests_on(one_item(resource, dataset).id)
    if not is_owner:
        query = query.where(col(spec.requests.requester_id) == viewer.id)
    if status is not None:
        query = query.where(col(spec.requests.status) == status)
    return list(session.exec(query.order_by(col(spec.requests.created_at), col(spec.requests.id))))


def decide(
    session: Session,
    *,
    resource: Resource | None = None,
    dataset: Dataset | None = None,
    request_id: str,
    approve: bool,
    actor: User,
) -> RequestRow:
    """Approve (grant what was asked, to the requester or their group) or deny a pending request."""
    item = one_item(resource, dataset)
    found = protected(item).find_request(session, request_id)
    if found is None or requested_item_id(found) != item.id:
        raise NotFound(f"no access request {request_id!r} on {describe(item)}")
    if found.status != "pending":
        raise Conflict(f"access request {request_id!r} was already {found.status}")
    found.status = "approved" if approve else "denied"
    found.decided_by = actor.id
    found.decided_at = utcnow()
    session.add(found)
    if approve:
        grant_on(session, item, grantee=_asked_for(session, found), permission=found.permission, actor=actor)
    session.flush()
    access_decided(session, request=found, item=item, actor=actor)
    return found


def _asked_for(session: Session, request: RequestRow) -> Grantee:
    """Whom an approved request grants to: the requester, or the group they asked for."""
    requester = session.get(User, request.requester_id)
    if requester is None:
        raise NotFound("the requesting user no longer exists")
    on_behalf = session.get(Group, request.group_id) if request.group_id else None
    if request.group_id is not None and on_behalf is None:
        raise NotFound("the group this request names no longer exists")
    return Grantee(group=on_behalf) if on_behalf is not None else Grantee(user=requester)
