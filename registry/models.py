"""SQLModel tables. Schemas for requests and responses live in `registry.schemas`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Index, Integer, Text, UniqueConstraint, func
from sqlmodel import Field, SQLModel

from registry.clock import new_id, utcnow


class User(SQLModel, table=True):
    __tablename__ = "users"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    username: str = Field(unique=True, index=True, max_length=64)
    password_hash: str = Field(max_length=256)
    is_admin: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    # Names are unique without regard to case (an index on lower(username); see migration 0014).
    __table_args__ = (Index("uq_users_username_lower", func.lower(Column("username")), unique=True),)
    # A disabled account's sign-in tokens and API tokens are refused on their next request.
    disabled: bool = False
    # Carried in every sign-in token (JWT claim `gen`); signing out or changing the password adds one, which ends
    # every sign-in token issued before.
    session_generation: int = 0


class ApiToken(SQLModel, table=True):
    """A named token a user makes for scripts; only its sha256 is stored, and it can be revoked."""

    __tablename__ = "api_tokens"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    name: str = Field(max_length=100)
    token_hash: str = Field(unique=True, index=True, max_length=64)
    prefix: str = Field(max_length=16)  # the first characters, to recognise a token in a list
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_used_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Resource(SQLModel, table=True):
    __tablename__ = "resources"
    __table_args__ = (UniqueConstraint("owner_id", "name", name="uq_resource_owner_name"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(index=True, max_length=64)  # unique per owner: addressed as owner/name
    kind: str = Field(max_length=64)
    title: str = Field(max_length=200)
    description: str = ""
    citation: str = ""
    license: str = Field(default="", max_length=200)
    visibility: str = Field(default="private", max_length=16)
    # Who may read what is made from this resource: "private" (only those who may read this resource) or
    # "open" (anyone the derivative's owner shares it with). See registry.rights.
    derivatives: str = Field(default="private", max_length=16)
    # False: run-only; the weight files are presigned to the owner alone, and no one else's task output has them.
    download: bool = True
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class ResourceVersion(SQLModel, table=True):
    __tablename__ = "resource_versions"
    __table_args__ = (UniqueConstraint("resource_id", "number", name="uq_version_number"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    resource_id: str = Field(foreign_key="resources.id", index=True, max_length=32)
    number: int
    digest: str = Field(max_length=80)
    config: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    files: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    parent_id: str | None = Field(default=None, foreign_key="resource_versions.id", max_length=32)
    reported_metrics: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # How a version made by a task came about: {"task", "mode", "parent": {resource, version, digest},
    # "dataset": {id, name, digest}, "params"}; None for uploaded versions.
    provenance: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # registry.schemas.ExecutionSpec as JSON: image, gpu {count, min_memory_gb, shareable}, cpu, memory_gb.
    execution: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    # The model card (Markdown source, bounded; rendered and sanitised on read by registry/cards.py): kept per
    # version, written by the owner and `modify` holders.
    card: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    card_updated_by: str | None = Field(default=None, foreign_key="users.id", max_length=32)
    card_updated_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    created_by: str = Field(foreign_key="users.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class GrantColumns(SQLModel):
    """The columns of a grant, whatever it protects (a resource: Grant, a dataset: DatasetGrant): to whom (a user,
    a group, or everyone when both are None), which permission, who gave it and when."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    grantee_id: str | None = Field(default=None, foreign_key="users.id", max_length=32)  # both None = everyone
    group_id: str | None = Field(default=None, foreign_key="groups.id", index=True, max_length=32)
    permission: str = Field(max_length=16)
    created_by: str = Field(foreign_key="users.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Grant(GrantColumns, table=True):
    __tablename__ = "grants"
    resource_id: str = Field(foreign_key="resources.id", index=True, max_length=32)


class AccessRequestColumns(SQLModel):
    """The columns of an access request, whatever it asks for (a resource: AccessRequest, a dataset:
    DatasetAccessRequest)."""

    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    requester_id: str = Field(foreign_key="users.id", max_length=32)
    # Asked on behalf of a group the requester maintains: approval grants the group.
    group_id: str | None = Field(default=None, foreign_key="groups.id", index=True, max_length=32)
    permission: str = Field(max_length=16)
    message: str = ""
    status: str = Field(default="pending", max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    decided_by: str | None = Field(default=None, foreign_key="users.id", max_length=32)
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class AccessRequest(AccessRequestColumns, table=True):
    __tablename__ = "access_requests"
    resource_id: str = Field(foreign_key="resources.id", index=True, max_length=32)


class DatasetAccessRequest(AccessRequestColumns, table=True):
    __tablename__ = "dataset_access_requests"
    dataset_id: str = Field(foreign_key="datasets.id", index=True, max_length=32)


class Upload(SQLModel, table=True):
    __tablename__ = "uploads"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    name: str = Field(max_length=255)
    size: int
    sha256: str = Field(max_length=64)
    content_type: str = Field(max_length=100)
    width: int
    height: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


_TASK_ROW_VERSION = Column("row_version", Integer, nullable=False)


class Task(SQLModel, table=True):
    __tablename__ = "tasks"
    __table_args__ = (UniqueConstraint("owner_id", "idempotency_key", name="uq_task_idempotency"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    # None for a task on a dataset alone (augment).
    resource_id: str | None = Field(default=None, foreign_key="resources.id", max_length=32)
    version_id: str | None = Field(default=None, foreign_key="resource_versions.id", max_length=32)
    mode: str = Field(max_length=16)
    params: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    inputs: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # No foreign key: a finished task keeps naming its dataset after the dataset is deleted.
    dataset_id: str | None = Field(default=None, index=True, max_length=32)
    # The dataset as the task sees it, frozen at submit time under tasks/<id>/inputs/dataset.json.
    dataset_digest: str | None = Field(default=None, max_length=80)
    reproduces_id: str | None = Field(default=None, foreign_key="tasks.id", max_length=32)
    # One record per finished epoch (train): epoch, train_loss, train_accuracy, val_loss, val_accuracy, seconds.
    metrics: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # What the task made that lives on in the registry, e.g. {"resource": name, "version": n} after a train.
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    status: str = Field(default="pending", index=True, max_length=16)
    steps: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    progress: float = 0.0
    error: str | None = None
    outputs: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    manifest_key: str | None = Field(default=None, max_length=200)
    lane: str = Field(default="batch", max_length=16)  # "warm" (long-lived task worker) or "batch" (deployment)
    dispatch_id: str | None = Field(default=None, max_length=64)  # Prefect flow run (batch) or task run (warm)
    flow_run_id: str | None = Field(default=None, max_length=64)  # the flow run that executes the task (batch)
    task_run_id: str | None = Field(default=None, max_length=64)  # the task run that executes it (warm lane)
    idempotency_key: str | None = Field(default=None, max_length=200)
    # sha256 of (method, path, body) of the request that carried the key: reusing the key for another request
    # is refused (see registry.tasks.create_task).
    idempotency_digest: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    heartbeat_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    # Optimistic locking: API, reaper and worker all write the row; a write based on a stale read fails with
    # StaleDataError and is retried on a fresh read (registry.tasks.change_task), so no update is lost.
    row_version: int = Field(default=1, sa_column=_TASK_ROW_VERSION)

    __mapper_args__ = {"version_id_col": _TASK_ROW_VERSION}


class Dataset(SQLModel, table=True):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("owner_id", "slug", name="uq_dataset_owner_slug"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    name: str = Field(max_length=200)
    slug: str = Field(max_length=64)  # unique per owner: the dataset is addressed as owner/slug (or by id)
    description: str = ""
    visibility: str = Field(default="private", max_length=16)
    derivatives: str = Field(default="private", max_length=16)  # as Resource.derivatives
    # A derived dataset (e.g. augmented): the dataset it was made from (no foreign key: the lineage is kept
    # when the source is deleted) and how: {"task", "source_digest", "operation"/"operations", ...}.
    source_id: str | None = Field(default=None, index=True, max_length=32)
    derivation: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class DatasetClass(SQLModel, table=True):
    __tablename__ = "dataset_classes"
    __table_args__ = (UniqueConstraint("dataset_id", "name", name="uq_dataset_class_name"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    dataset_id: str = Field(foreign_key="datasets.id", index=True, max_length=32)
    name: str = Field(max_length=128)
    position: int
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class DatasetItem(SQLModel, table=True):
    __tablename__ = "dataset_items"
    __table_args__ = (UniqueConstraint("dataset_id", "sha256", name="uq_dataset_item_sha256"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    dataset_id: str = Field(foreign_key="datasets.id", index=True, max_length=32)
    class_id: str | None = Field(default=None, foreign_key="dataset_classes.id", index=True, max_length=32)
    sha256: str = Field(max_length=64)
    size: int
    width: int
    height: int
    content_type: str = Field(max_length=100)
    extension: str = Field(max_length=8)
    original_name: str = Field(max_length=255)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    # Set when the photo was deleted while a task may have frozen it: hidden from the dataset, its object kept
    # until no task refers to it (registry.datasets.delete_item and reclaim_unreferenced).
    deleted_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class DatasetGrant(GrantColumns, table=True):
    __tablename__ = "dataset_grants"
    dataset_id: str = Field(foreign_key="datasets.id", index=True, max_length=32)


class Lineage(SQLModel, table=True):
    """An edge "item was made from source" (resource or dataset each), stored transitively closed: an item
    has one edge to each of its sources, its sources' sources and so on, so one query finds all of them."""

    __tablename__ = "lineage"
    __table_args__ = (UniqueConstraint("item_type", "item_id", "source_type", "source_id", name="uq_lineage_edge"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    item_type: str = Field(max_length=16)  # "resource" | "dataset"
    item_id: str = Field(index=True, max_length=32)
    source_type: str = Field(max_length=16)
    source_id: str = Field(index=True, max_length=32)
    task_id: str | None = Field(default=None, max_length=32)  # the task that made the item, when one did
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class AuditEvent(SQLModel, table=True):
    """One recorded action (append-only: rows are inserted, never updated or deleted)."""

    __tablename__ = "audit_events"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    at: datetime = Field(default_factory=utcnow, index=True, sa_type=DateTime(timezone=True))
    actor_id: str | None = Field(default=None, index=True, max_length=32)
    actor: str = Field(max_length=64)  # the user name at the time (kept if the user goes)
    action: str = Field(index=True, max_length=48)
    target_type: str = Field(max_length=16)  # "resource" | "dataset" | "task" | "group"
    target_id: str = Field(index=True, max_length=32)
    target_name: str = Field(max_length=200)
    owner_id: str | None = Field(default=None, index=True, max_length=32)  # whose item it is
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    address: str | None = Field(default=None, max_length=64)


class Group(SQLModel, table=True):
    """A set of users (a lab, a class) that grants and access requests may name."""

    __tablename__ = "groups"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    name: str = Field(unique=True, index=True, max_length=64)
    title: str = Field(max_length=200)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class GroupMember(SQLModel, table=True):
    __tablename__ = "group_members"
    __table_args__ = (UniqueConstraint("group_id", "user_id", name="uq_group_member"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    group_id: str = Field(foreign_key="groups.id", index=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    role: str = Field(max_length=16)  # "member" | "maintainer"
    added_by: str = Field(foreign_key="users.id", max_length=32)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class Notification(SQLModel, table=True):
    """One message in a user's in-app inbox: an access request approved or denied, a task finished, someone asking
    for access to one's resource. `link` is a page path in the commons (never an outside URL)."""

    __tablename__ = "notifications"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    user_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    kind: str = Field(max_length=32)
    text: str = Field(max_length=500)
    link: str = Field(default="", max_length=300)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)
    read_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class Webhook(SQLModel, table=True):
    """A URL a user registered to hear about their items (see registry/webhooks): a new version of their resource,
    an access request, a task on their resource or dataset; all their items, or one (`resource_id`/`dataset_id`)."""

    __tablename__ = "webhooks"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=32)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    resource_id: str | None = Field(default=None, foreign_key="resources.id", index=True, max_length=32)
    dataset_id: str | None = Field(default=None, foreign_key="datasets.id", index=True, max_length=32)
    secret: str = Field(max_length=100)  # "whsec_<base64>": the HMAC key its deliveries are signed with
    description: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class WebhookSecret(SQLModel, table=True):
    """A user's signing secret for the webhooks their tasks name (as Replicate's account-wide webhook secret)."""

    __tablename__ = "webhook_secrets"
    user_id: str = Field(foreign_key="users.id", primary_key=True, max_length=32)
    secret: str = Field(max_length=100)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class TaskWebhook(SQLModel, table=True):
    """The `webhook` a task was submitted with, the events it wants, and how many it was sent (a bound)."""

    __tablename__ = "task_webhooks"
    task_id: str = Field(foreign_key="tasks.id", primary_key=True, max_length=32)
    url: str = Field(max_length=2000)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    sent: int = 0


class WebhookDelivery(SQLModel, table=True):
    """One event for one URL: the outbox row the delivery worker sends (signed, retried with backoff), kept as the
    delivery log its owner reads. `id` is the Standard Webhooks `webhook-id`, the same on every attempt."""

    __tablename__ = "webhook_deliveries"
    id: str = Field(default_factory=new_id, primary_key=True, max_length=40)
    owner_id: str = Field(foreign_key="users.id", index=True, max_length=32)
    webhook_id: str | None = Field(default=None, index=True, max_length=32)  # None: a task's own webhook
    task_id: str | None = Field(default=None, index=True, max_length=32)
    event: str = Field(max_length=40)
    url: str = Field(max_length=2000)
    payload: str = Field(sa_column=Column(Text, nullable=False))  # the body, signed as is on every attempt
    status: str = Field(default="pending", index=True, max_length=16)  # pending | succeeded | failed
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, index=True, sa_type=DateTime(timezone=True))
    locked_until: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    # One record per attempt: at, status_code, error, seconds (at most the configured attempts).
    attempt_log: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(default_factory=utcnow, index=True, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
