"""Per-user quotas: tasks pending or running at once, and bytes stored.

Why: without them one account could queue thousands of tasks ahead of everyone else's, or fill the object
store. The numbers are settings (`COMMONS_MAX_ACTIVE_TASKS`, `COMMONS_MAX_STORAGE_BYTES`, and higher ones for
admins, `COMMONS_ADMIN_…`); usage is computed from the registry when needed, never kept in a counter that
could drift:

- tasks: rows of the user's that are pending, scheduled or running;
- storage: the sizes of the user's uploads, of the live photos of the datasets they own and of the files of
  every version of the resources they own (SQL sums over the `size` columns; a version's files are a JSON list,
  summed here as they are read, since SQLite and PostgreSQL take JSON apart differently).

The task check first takes the write lock on the user's row (the same no-op UPDATE `create_task` makes), so
two submissions of one user at the same moment are counted one after the other and cannot both take the last
place.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from commons.errors import StorageQuotaExceeded, TaskQuotaExceeded
from commons.settings import Settings
from registry.models import ApiToken, Dataset, DatasetItem, Resource, ResourceVersion, Task, Upload, User
from registry.tasks import ACTIVE

TASK_QUOTA_RETRY_AFTER_SECONDS: Final[int] = 30


@dataclass(frozen=True)
class StorageUsage:
    """Bytes a user stores, by where they are."""

    uploads: int = 0
    dataset_items: int = 0
    version_files: int = 0

    @property
    def total(self) -> int:
        return self.uploads + self.dataset_items + self.version_files


@dataclass(frozen=True)
class UserUsage:
    """One row of the admin's usage view."""

    user_id: str
    username: str
    is_admin: bool
    tasks_active: int
    storage: StorageUsage
    api_tokens: int


def task_quota(settings: Settings, *, is_admin: bool) -> int:
    return settings.admin_max_active_tasks if is_admin else settings.max_active_tasks


def storage_quota(settings: Settings, *, is_admin: bool) -> int:
    return settings.admin_max_storage_bytes if is_admin else settings.max_storage_bytes


def active_tasks(session: Session, *, user_id: str) -> int:
    query = select(func.count()).select_from(Task).where(Task.owner_id == user_id, col(Task.status).in_(ACTIVE))
    return int(session.exec(query).one())


def storage_usage(session: Session, *, user_id: str) -> StorageUsage:
    return storage_usage_of(session, [user_id]).get(user_id, StorageUsage())


def storage_usage_of(session: Session, user_ids: list[str]) -> dict[str, StorageUsage]:
    """Storage of each of `user_ids`, in three queries whatever their number."""
    if not user_ids:
        return {}
    uploads = dict(
        session.exec(
            select(Upload.owner_id, func.coalesce(func.sum(Upload.size), 0))
            .where(col(Upload.owner_id).in_(user_ids))
            .group_by(col(Upload.owner_id))
        ).all()
    )
    items = dict(
        session.exec(
            select(Dataset.owner_id, func.coalesce(func.sum(DatasetItem.size), 0))
            .join(Dataset, col(Dataset.id) == col(DatasetItem.dataset_id))
            .where(col(Dataset.owner_id).in_(user_ids), col(DatasetItem.deleted_at).is_(None))
            .group_by(col(Dataset.owner_id))
        ).all()
    )
    versions: dict[str, int] = {}
    rows = session.exec(
        select(Resource.owner_id, ResourceVersion.files)
        .join(Resource, col(Resource.id) == col(ResourceVersion.resource_id))
        .where(col(Resource.owner_id).in_(user_ids))
    )
    for owner_id, files in rows:
        versions[owner_id] = versions.get(owner_id, 0) + sum(int(entry.get("size", 0)) for entry in files or [])
    return {
        user_id: StorageUsage(int(uploads.get(user_id, 0)), int(items.get(user_id, 0)), versions.get(user_id, 0))
        for user_id in user_ids
    }


def check_task_quota(session: Session, *, user: User, settings: Settings) -> None:
    """Refuse (429, Retry-After) a new task when the user already has their quota of tasks pending or running."""
    session.execute(update(User).where(col(User.id) == user.id).values(id=User.id))  # serialise this user's submits
    quota = task_quota(settings, is_admin=user.is_admin)
    active = active_tasks(session, user_id=user.id)
    if active >= quota:
        setting = "COMMONS_ADMIN_MAX_ACTIVE_TASKS" if user.is_admin else "COMMONS_MAX_ACTIVE_TASKS"
        raise TaskQuotaExceeded(
            f"task quota reached: you have {active} tasks pending or running and may have {quota} at once "
            f"({setting}); wait for one to end, or cancel one (POST /api/v1/tasks/{{id}}/cancel; yours are listed "
            "at GET /api/v1/tasks), then submit again",
            retry_after=TASK_QUOTA_RETRY_AFTER_SECONDS,
        )


def check_storage_quota(session: Session, *, user: User, settings: Settings, adding: int) -> None:
    """Refuse (413) storing `adding` more bytes when it would take the user over their storage quota; with
    `adding` 0 (a task that will publish a version or dataset), refuse when the quota is already used up."""
    quota = storage_quota(settings, is_admin=user.is_admin)
    usage = storage_usage(session, user_id=user.id)
    if usage.total + adding <= quota and (adding > 0 or usage.total < quota):
        return
    setting = "COMMONS_ADMIN_MAX_STORAGE_BYTES" if user.is_admin else "COMMONS_MAX_STORAGE_BYTES"
    asked = f"adding {adding:,} bytes would make {usage.total + adding:,}" if adding else "a task that publishes"
    raise StorageQuotaExceeded(
        f"storage quota reached: you store {usage.total:,} bytes (uploads {usage.uploads:,}, dataset photos "
        f"{usage.dataset_items:,}, version files {usage.version_files:,}) of {quota:,} ({setting}); {asked} "
        "needs more. Free space by deleting dataset photos (DELETE /api/v1/datasets/{id}/items/{item}) or whole "
        "datasets you no longer need, or ask an admin to raise the quota"
    )


def usage_page(session: Session, *, limit: int, offset: int) -> list[UserUsage]:
    """Usage of a page of users, in user-name order: tasks pending or running, bytes stored, API tokens in force
    (not revoked; an expired token is counted until it is revoked)."""
    users = list(session.exec(select(User).order_by(col(User.username)).offset(offset).limit(limit)))
    ids = [user.id for user in users]
    if not ids:
        return []
    tasks = dict(
        session.exec(
            select(Task.owner_id, func.count())
            .where(col(Task.owner_id).in_(ids), col(Task.status).in_(ACTIVE))
            .group_by(col(Task.owner_id))
        ).all()
    )
    tokens = dict(
        session.exec(
            select(ApiToken.user_id, func.count())
            .where(col(ApiToken.user_id).in_(ids), col(ApiToken.revoked_at).is_(None))
            .group_by(col(ApiToken.user_id))
        ).all()
    )
    storage = storage_usage_of(session, ids)
    return [
        UserUsage(
            user_id=user.id,
            username=user.username,
            is_admin=user.is_admin,
            tasks_active=int(tasks.get(user.id, 0)),
            storage=storage[user.id],
            api_tokens=int(tokens.get(user.id, 0)),
        )
        for user in users
    ]


def check_owner_storage(session: Session, *, owner_id: str, settings: Settings, adding: int) -> None:
    """`check_storage_quota` for what is added to an item (a dataset's photos, a resource's version): it counts
    against the item's owner, whoever adds it (a user with `modify` on someone else's item fills the owner's
    storage)."""
    owner = session.get(User, owner_id)
    if owner is not None:
        check_storage_quota(session, user=owner, settings=settings, adding=adding)
