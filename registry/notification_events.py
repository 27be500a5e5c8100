"""What the inbox says when something happens: someone asks for access to one's resource, an owner decides a
request, one's task ends. Each function adds the messages in the caller's transaction (see `notify`)."""

from __future__ import annotations

from urllib.parse import quote

from sqlmodel import Session, col, select

from registry.models import (
    AccessRequest,
    Dataset,
    DatasetAccessRequest,
    Group,
    Lineage,
    Resource,
    ResourceVersion,
    Task,
    User,
)
from registry.notifications import NotificationKind, notify

DECIDE_PAGE = "/provide#pending"
ENDINGS = {"succeeded": "succeeded", "failed": "failed", "cancelled": "was cancelled"}


def _username(session: Session, user_id: str | None) -> str:
    user = session.get(User, user_id) if user_id else None
    return user.username if user is not None else "someone"


def resource_ref(session: Session, resource: Resource) -> str:
    """owner/name, as pages and the API address a resource."""
    return f"{_username(session, resource.owner_id)}/{resource.name}"


def item_ref(session: Session, item: Resource | Dataset) -> str:
    """owner/name of a resource, owner/slug of a dataset: how pages and the API address it."""
    if isinstance(item, Resource):
        return resource_ref(session, item)
    return f"{_username(session, item.owner_id)}/{item.slug}"


def item_page(session: Session, item: Resource | Dataset) -> str:
    """The item's page: /resources/owner/name or /datasets/owner/slug."""
    kind = "resources" if isinstance(item, Resource) else "datasets"
    return f"/{kind}/" + "/".join(quote(part, safe="") for part in item_ref(session, item).split("/"))


def _asked(session: Session, request: AccessRequest | DatasetAccessRequest, item: Resource | Dataset) -> str:
    """ "use of alice/resnet-x" ("use of dataset alice/pets"), or "… for group lab" for a group's request."""
    group = session.get(Group, request.group_id) if request.group_id else None
    what = item_ref(session, item) if isinstance(item, Resource) else f"dataset {item_ref(session, item)}"
    return f"{request.permission} of {what}" + (f" for group {group.name}" if group is not None else "")


def _deciders(session: Session, item: Resource | Dataset) -> list[str]:
    """Who sees a request on `item` among those they decide: its owner, and for a resource the owners of what it
    was made from (see registry.access_requests.inbox)."""
    if isinstance(item, Dataset):
        return [item.owner_id]
    edges = session.exec(select(Lineage).where(Lineage.item_type == "resource", Lineage.item_id == item.id)).all()
    owners = [item.owner_id]
    for kind, table in (("resource", Resource), ("dataset", Dataset)):
        ids = {edge.source_id for edge in edges if edge.source_type == kind}
        if ids:
            owners += session.exec(select(table.owner_id).where(col(table.id).in_(ids))).all()
    return list(dict.fromkeys(owners))


def access_requested(
    session: Session, *, request: AccessRequest | DatasetAccessRequest, item: Resource | Dataset, requester: User
) -> None:
    """Tell the item's owner (and a resource's sources' owners) that `requester` asks for a right: resource
    requests are decided on Provide, dataset requests on the dataset's page."""
    text = f"{requester.username} asks for {_asked(session, request, item)}"
    if request.message:
        text += f": “{request.message}”"
    link = DECIDE_PAGE if isinstance(item, Resource) else item_page(session, item)
    for user_id in _deciders(session, item):
        if user_id != requester.id:
            notify(session, user_id=user_id, kind=NotificationKind.ACCESS_REQUESTED, text=text, link=link)


def access_decided(
    session: Session, *, request: AccessRequest | DatasetAccessRequest, item: Resource | Dataset, actor: User
) -> None:
    """Tell the requester that `actor` approved or denied their request."""
    approved = request.status == "approved"
    kind = NotificationKind.ACCESS_APPROVED if approved else NotificationKind.ACCESS_DENIED
    verb = "approved" if approved else "denied"
    text = f"{actor.username} {verb} your request for {_asked(session, request, item)}"
    notify(session, user_id=request.requester_id, kind=kind, text=text, link=item_page(session, item))


def task_finished(session: Session, task: Task) -> None:
    """Tell the task's owner that it ended: "Your infer of alice/sam v1 succeeded"."""
    notify(
        session,
        user_id=task.owner_id,
        kind=NotificationKind.TASK_FINISHED,
        text=f"Your {task.mode} of {_subject(session, task)} {ENDINGS.get(task.status, task.status)}",
        link=f"/tasks/{quote(task.id, safe='')}",
    )


def _subject(session: Session, task: Task) -> str:
    """What the task ran on: "alice/sam v1", or "dataset alice/digits" for a task on a dataset alone."""
    resource = session.get(Resource, task.resource_id) if task.resource_id else None
    if resource is not None:
        version = session.get(ResourceVersion, task.version_id) if task.version_id else None
        return resource_ref(session, resource) + (f" v{version.number}" if version is not None else "")
    dataset = session.get(Dataset, task.dataset_id) if task.dataset_id else None
    if dataset is not None:
        return f"dataset {item_ref(session, dataset)}"
    return f"task {task.id[:8]}"
