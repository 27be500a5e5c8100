"""Tasks on a dataset alone: augmentation makes a derived dataset (a task, like any other: 202, events)."""

from __future__ import annotations

from typing import Annotated, Any, Final

from fastapi import APIRouter, Body, Header, Request, Response, status

from api.deps import ClientAddress, CurrentUser, DispatcherDep, SessionDep, SettingsDep, StoreDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.routes.tasks import answered_before, check_quotas, launch, request_digest
from commons.errors import InvalidInput
from registry import tasks as task_rows
from registry.audit import record_for_owner
from registry.dataset_permissions import dataset_for
from registry.dataset_snapshots import take_snapshot
from registry.schemas import TaskPublic

router = APIRouter(prefix="/datasets", tags=["datasets"])
MAX_DERIVED_PHOTOS: Final = 100_000
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
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    dispatcher: DispatcherDep,
    response: Response,
    address: ClientAddress,
    request: Request,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
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
    from resources.augment import parse_augment_params

    digest = request_digest(request, params or {})  # the same key with another request: 422
    earlier = answered_before(
        idempotency_key, digest=digest, user=user, session=session, store=store, settings=settings
    )
    if earlier is not None:
        return earlier
    dataset = dataset_for(session, dataset_id=dataset_id, user=user, need="use")
    parsed = parse_augment_params(params or {})
    snapshot = take_snapshot(session, dataset)
    photos = len(snapshot["items"])
    if photos == 0:
        raise InvalidInput(f"dataset {dataset.name!r} has no photos; add photos before augmenting it", field="dataset")
    derived = photos * (len(parsed.operations) + int(parsed.keep_original))
    if derived > MAX_DERIVED_PHOTOS:
        raise InvalidInput(
            f"dataset {dataset.name!r} would grow to {derived} photos; at most {MAX_DERIVED_PHOTOS} — use fewer "
            "operations or a smaller dataset",
            field="params.operations",
        )
    check_quotas(session, user=user, settings=settings, mode="augment")
    task, created = task_rows.create_task(
        session,
        owner=user,
        resource=None,
        version=None,
        mode="augment",
        params=parsed.model_dump(mode="json"),
        inputs=[],
        lane="batch",
        idempotency_key=idempotency_key,
        idempotency_digest=digest,
        dataset_id=snapshot["id"],
        dataset_digest=snapshot["digest"],
    )
    if created:
        detail = {"task": task.id, "mode": "augment"}
        record_for_owner(session, actor=user, action="task.submit", target=dataset, detail=detail, address=address)
    return launch(
        task,
        created=created,
        snapshot=snapshot,
        session=session,
        store=store,
        settings=settings,
        dispatcher=dispatcher,
        response=response,
    )
