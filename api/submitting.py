"""The HTTP side of task submission (`services/submission.py` does the rest): the submitter as a dependency,
the `Idempotency-Key` header and what it is bound to, and the answer a submit route gives."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request

from api.deps import ClientAddress, CurrentUser, DispatcherDep, SessionDep, SettingsDep, StoreDep
from commons.hashing import sha256_json
from registry.models import Task
from registry.schemas import TaskPublic
from registry.views.tasks import task_view
from services.submission import Submitter


def get_submitter(
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    address: ClientAddress,
) -> Submitter:
    return Submitter(user=user, session=session, store=store, settings=settings, dispatcher=dispatcher, address=address)


SubmitterDep = Annotated[Submitter, Depends(get_submitter)]
IdempotencyKey = Annotated[str | None, Header(max_length=200)]


def request_digest(request: Request, body: Any) -> str:
    """What an `Idempotency-Key` is bound to: sha256 over the method, the path and the parsed body as canonical
    JSON (so key order and whitespace do not count, and defaults left out equal defaults sent)."""
    return sha256_json({"method": request.method, "path": request.url.path, "body": body})


def submitted_view(submitter: Submitter, task: Task) -> TaskPublic:
    """The task as the API shows it, with presigned URLs for its outputs."""
    return task_view(
        submitter.session, task, store=submitter.store, expires_seconds=submitter.settings.presign_expiry_seconds
    )
