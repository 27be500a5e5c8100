"""What rights protect: resources and datasets, each described once (its table, its grants and access requests
tables, how a refusal names it), so that every rule of the package is written once for both."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from sqlalchemy import ColumnElement
from sqlmodel import Session, select
from sqlmodel.sql.expression import SelectOfScalar

from registry.models import AccessRequest, Dataset, DatasetAccessRequest, DatasetGrant, Grant, Resource

ItemType = Literal["resource", "dataset"]
Item = Resource | Dataset
GrantRow = Grant | DatasetGrant
RequestRow = AccessRequest | DatasetAccessRequest


@dataclass(frozen=True)
class Protected:
    """One kind of protected item: its table, the table of its grants and that of its access requests."""

    kind: ItemType
    table: Any  # type[Resource] | type[Dataset], for queries that hold either
    grants: type[Grant] | type[DatasetGrant]
    requests: type[AccessRequest] | type[DatasetAccessRequest]

    @property
    def grant_item(self) -> ColumnElement[str]:
        """The column of `grants` that names the item."""
        return cast("ColumnElement[str]", Grant.resource_id if self.grants is Grant else DatasetGrant.dataset_id)

    def grants_on(self, item_id: str) -> SelectOfScalar[GrantRow]:
        """The grants on one item (a query)."""
        return cast("SelectOfScalar[GrantRow]", select(self.grants).where(self.grant_item == item_id))

    def find_grant(self, session: Session, grant_id: str) -> GrantRow | None:
        found = session.get(self.grants, grant_id)
        return found if isinstance(found, Grant | DatasetGrant) else None

    def new_grant(
        self, item_id: str, *, user_id: str | None, group_id: str | None, permission: str, by: str
    ) -> GrantRow:
        if self.grants is Grant:
            return Grant(
                resource_id=item_id, grantee_id=user_id, group_id=group_id, permission=permission, created_by=by
            )
        return DatasetGrant(
            dataset_id=item_id, grantee_id=user_id, group_id=group_id, permission=permission, created_by=by
        )

    @property
    def request_item(self) -> ColumnElement[str]:
        """The column of `requests` that names the item."""
        item = AccessRequest.resource_id if self.requests is AccessRequest else DatasetAccessRequest.dataset_id
        return cast("ColumnElement[str]", item)

    def requests_on(self, item_id: str) -> SelectOfScalar[RequestRow]:
        """The access requests on one item (a query)."""
        return cast("SelectOfScalar[RequestRow]", select(self.requests).where(self.request_item == item_id))

    def find_request(self, session: Session, request_id: str) -> RequestRow | None:
        found = session.get(self.requests, request_id)
        return found if isinstance(found, AccessRequest | DatasetAccessRequest) else None

    def new_request(
        self, item_id: str, *, requester_id: str, group_id: str | None, permission: str, message: str
    ) -> RequestRow:
        if self.requests is AccessRequest:
            return AccessRequest(
                resource_id=item_id,
                requester_id=requester_id,
                group_id=group_id,
                permission=permission,
                message=message,
            )
        return DatasetAccessRequest(
            dataset_id=item_id, requester_id=requester_id, group_id=group_id, permission=permission, message=message
        )


RESOURCES: Final = Protected("resource", Resource, Grant, AccessRequest)
DATASETS: Final = Protected("dataset", Dataset, DatasetGrant, DatasetAccessRequest)
PROTECTED: Final[dict[ItemType, Protected]] = {"resource": RESOURCES, "dataset": DATASETS}

# How a refusal names each kind of item (`str.format` templates). The caller cannot see the item ({ref}: the
# address they gave):
MISSING: Final[dict[ItemType, str]] = {
    "resource": "no resource named {ref!r}; list what you can see at GET /api/v1/resources",
    "dataset": "no dataset {ref!r}; list what you can see at GET /api/v1/datasets",
}
# ... sees it, but a binding source they cannot read ({source}: its name) keeps the right from them:
BOUND: Final[dict[ItemType, str]] = {
    "resource": "{ref!r} is made from {source!r}, which you can no longer read; ask its owner for access (the "
    "derivative is kept, nothing was deleted)",
    "dataset": "dataset {name!r} is made from {source!r}, which you can no longer read; ask its owner for access "
    "(the derived dataset is kept, nothing was deleted)",
}
# ... sees it but lacks the right ({need}):
LACKING: Final[dict[ItemType, str]] = {
    "resource": "you lack the {need!r} right on {ref!r}; ask the owner with "
    "POST /api/v1/resources/{ref}/access-requests",
    "dataset": "you lack the {need!r} right on dataset {ref!r}; ask its owner for a grant",
}
# ... names a grant ({grant_id}) that is not on the item ({name}, {id}):
NO_GRANT: Final[dict[ItemType, str]] = {
    "resource": "no grant {grant_id!r} on {name!r}; list them at GET …/grants",
    "dataset": "no grant {grant_id!r} on dataset {id!r}; list them at GET …/grants",
}


def item_type(item: Item) -> ItemType:
    return "resource" if isinstance(item, Resource) else "dataset"


def protected(item: Item) -> Protected:
    return PROTECTED[item_type(item)]


def describe(item: Item) -> str:
    return f"{item_type(item)} {item.name!r}"


def key(item: Item) -> tuple[ItemType, str]:
    """How lineage names an item: (type, id)."""
    return item_type(item), item.id


def granted_item_id(grant: GrantRow) -> str:
    """The id of the item a grant is on."""
    return grant.resource_id if isinstance(grant, Grant) else grant.dataset_id


def requested_item_id(request: RequestRow) -> str:
    """The id of the item an access request is on."""
    return request.resource_id if isinstance(request, AccessRequest) else request.dataset_id


def one_item(resource: Resource | None, dataset: Dataset | None) -> Item:
    """The one item a call names by keyword (`resource=` or `dataset=`)."""
    if resource is not None and dataset is None:
        return resource
    if dataset is not None and resource is None:
        return dataset
    raise TypeError("name exactly one of resource= or dataset=")
