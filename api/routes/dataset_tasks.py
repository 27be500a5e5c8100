"""Tasks on a dataset alone: augmentation makes a derived dataset (a task, like any other: 202, events)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Request, Response, status

from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.submitting import IdempotencyKey, SubmitterDep, request_digest, submitted_view
from registry.schemas import TaskPublic
from services.submission import Idempotency, answered_before, submit_augment

router = APIRouter(prefix="/datasets", tags=["datasets"])
AUGMENT_EXAMPLE: Final = {
    "operations": [
        {"op": "rotate", "degrees": 15},
        {"op": "blur", "radius": 1.0},
        {"op": "flip"},
        {"op": "flop"},
    ],
    "keep_original": True,
    "name": "digits (augmented)",
}


@router.post("/{dataset_id:ref}/augment", status_code=status.HTTP_202_ACCEPTED, response_model=TaskPublic)
def augment(
    dataset_id: str,
    submitter: SubmitterDep,
    response: Response,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    params: Annotated[
        dict[str, Any] | None,
        Body(
            description="The operations (rotate `degrees`, blur `radius`, flip = left-right, flop = top-bottom), "
            "whether the originals are kept, and the new dataset's name. Empty: all four with their defaults.",
            examples=[AUGMENT_EXAMPLE],
        ),
    ] = None,
) -> TaskPublic:
    """Start a task that makes a new dataset of yours: every photo of this one (frozen now) and one copy of it
    per operation, each with the photo's label; the operations and the source are recorded as its lineage.
    With the defaults that is five photos from one. The task's `result` names the new dataset."""
    idempotency = Idempotency(idempotency_key, request_digest(request, params or {}))  # same key, other request: 422
    task = answered_before(submitter, idempotency)
    if task is None:
        task, _ = submit_augment(submitter, dataset_id, params or {}, idempotency)
        response.headers["Location"] = f"/api/v1/tasks/{task.id}"
    return submitted_view(submitter, task)
