"""Admin views: what each user uses of the deployment (tasks at once, storage, API tokens) against the quotas."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.deps import CurrentUser, PageDep, SessionDep, SettingsDep
from commons.errors import Forbidden
from registry.quotas import storage_quota, task_quota, usage_page

router = APIRouter(prefix="/admin", tags=["admin"])


class StoragePublic(BaseModel):
    uploads: int
    dataset_items: int
    version_files: int
    total: int
    quota: int


class UserUsagePublic(BaseModel):
    user_id: str
    username: str
    is_admin: bool
    tasks_active: int
    tasks_quota: int
    storage_bytes: StoragePublic
    api_tokens: int


@router.get("/usage", response_model=list[UserUsagePublic])
def usage(user: CurrentUser, session: SessionDep, settings: SettingsDep, page: PageDep) -> list[UserUsagePublic]:
    """Per user, in user-name order: tasks pending or running and their quota, bytes stored (uploads, live
    dataset photos, version files of owned resources) and the quota, and API tokens not revoked. Admins only."""
    if not user.is_admin:
        raise Forbidden("only admins may see every user's usage; your own tasks are at GET /api/v1/tasks")
    return [
        UserUsagePublic(
            user_id=row.user_id,
            username=row.username,
            is_admin=row.is_admin,
            tasks_active=row.tasks_active,
            tasks_quota=task_quota(settings, is_admin=row.is_admin),
            storage_bytes=StoragePublic(
                uploads=row.storage.uploads,
                dataset_items=row.storage.dataset_items,
                version_files=row.storage.version_files,
                total=row.storage.total,
                quota=storage_quota(settings, is_admin=row.is_admin),
            ),
            api_tokens=row.api_tokens,
        )
        for row in usage_page(session, limit=page.limit, offset=page.offset)
    ]
