"""Task submission: everything between a validated request and a task handed to Prefect, for every route that
starts one (`POST /tasks`, `POST /tasks/{id}/reproduce`, `POST /datasets/{ref}/augment`).

What a task takes, how its parameters are read, where it may run and whether it publishes come from its kind's
spec (`flows/kinds/`); the rights, quotas, snapshot and idempotency rules are the same for every kind. The routes
only turn HTTP into these calls and the task into its view.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import partial
from typing import Any, Final

from sqlmodel import Session

from commons.errors import ExecutionNotAllowed, InvalidInput, NotFound, ServiceUnavailable
from commons.settings import Settings
from commons.store import ObjectStore
from commons.webhook_settings import get_webhook_settings
from flows.kinds import KINDS
from flows.kinds.spec import Inputs, ModeSpec
from flows.steps.prepare import DATASET_KIND
from registry import tasks as task_rows
from registry.audit import record_for_owner
from registry.dataset_snapshots import DatasetSnapshot, check_for_mode, load_snapshot, store_snapshot, take_snapshot
from registry.models import Dataset, Resource, ResourceVersion, Task, Upload, User
from registry.quotas import check_storage_quota, check_task_quota
from registry.reproductions import reproducible_task
from registry.rights import dataset_for, require, resource_for
from registry.schemas import ExecutionSpec, TaskCreate
from registry.trained_versions import resolve_target
from registry.uploads import uploads_for_task
from registry.versions import execution_of, get_version
from registry.vocabulary import Lane, Mode
from registry.webhooks import task_hooks
from registry.webhooks.addresses import AddressPolicy
from services.dispatch import Dispatcher, fail_not_allowed
from services.kinds import task_memory, validate_params

log = logging.getLogger(__name__)
MAX_DERIVED_PHOTOS: Final = 100_000


@dataclass(frozen=True)
class Submitter:
    """Who submits, and the request's handles on the database, the object store and Prefect."""

    user: User
    session: Session
    store: ObjectStore
    settings: Settings
    dispatcher: Dispatcher
    address: str | None = None


@dataclass(frozen=True)
class Idempotency:
    """The request's `Idempotency-Key` (None: none sent) and what it is bound to (a digest of the request)."""

    key: str | None
    digest: str


def answered_before(sub: Submitter, idempotency: Idempotency) -> Task | None:
    """The task an earlier request with this key made, or None; InvalidInput (422) when the key came with a
    different request."""
    if idempotency.key is None:
        return None
    return task_rows.earlier_for_key(sub.session, owner=sub.user, key=idempotency.key, digest=idempotency.digest)


def check_quotas(sub: Submitter, *, stores: bool) -> None:
    """The user's task quota (429), and for a task that may store a version or dataset their storage (413)."""
    if stores:
        check_storage_quota(sub.session, user=sub.user, settings=sub.settings, adding=0)
    check_task_quota(sub.session, user=sub.user, settings=sub.settings)


@dataclass
class _Inputs:
    uploads: list[Upload]
    dataset: Dataset | None = None
    snapshot: DatasetSnapshot | None = None


def _read_inputs(sub: Submitter, spec: TaskCreate, mode: ModeSpec) -> _Inputs:
    """What the mode takes, and only that: uploads (at least one, at most `max_inputs`), a dataset (frozen now,
    after the caller's right on it is checked), or neither."""
    if mode.inputs is Inputs.DATASET:
        if spec.dataset is None:
            raise InvalidInput(f"a {spec.mode} task needs `dataset`: the id of a dataset you may use", field="dataset")
        if spec.inputs:
            raise InvalidInput(f"a {spec.mode} task reads its dataset; leave `inputs` out", field="inputs")
        dataset = dataset_for(sub.session, dataset_id=spec.dataset, user=sub.user, need="use")
        snapshot = take_snapshot(sub.session, dataset)
        check_for_mode(snapshot, mode=spec.mode)
        return _Inputs(uploads=[], dataset=dataset, snapshot=snapshot)
    if mode.inputs is Inputs.UPLOADS:
        if spec.dataset is not None:
            raise InvalidInput(f"an {spec.mode} task takes `inputs` (upload ids), not a dataset", field="dataset")
        if not spec.inputs:
            raise InvalidInput(f"an {spec.mode} task needs at least one upload id in `inputs`", field="inputs")
        if mode.max_inputs == 1 and len(spec.inputs) != 1:
            raise InvalidInput(
                f"an {spec.mode} task follows one photo through the model; give one upload id (got {len(spec.inputs)})",
                field="inputs",
            )
        if mode.max_inputs is not None and len(spec.inputs) > mode.max_inputs:
            raise InvalidInput(
                f"an {spec.mode} task takes at most {mode.max_inputs} upload ids (got {len(spec.inputs)})",
                field="inputs",
            )
        return _Inputs(uploads=uploads_for_task(sub.session, owner=sub.user, upload_ids=spec.inputs))
    if spec.dataset is not None or spec.inputs:
        raise InvalidInput(f"an {spec.mode} task takes only `params`; leave `inputs` and `dataset` out", field="mode")
    return _Inputs(uploads=[])


def submit_task(sub: Submitter, spec: TaskCreate, idempotency: Idempotency) -> tuple[Task, bool]:
    """Validate a task on a resource version against its kind, store it and hand it to Prefect in the
    background. Returns (task, created): an idempotent repeat answers the task the first request made."""
    resource = resource_for(sub.session, name=spec.resource, user=sub.user, need="use")
    version = get_version(sub.session, resource, spec.version)
    kind = KINDS.get(resource.kind)
    named = kind.modes.get(Mode(spec.mode))
    if spec.dataset is not None and not spec.inputs and (named is None or named.inputs is Inputs.DATASET):
        # Access before validity: a dataset the caller may not use is refused as such (404/403) before anything
        # else about the request is judged, so a 422 never tells whether someone else's dataset exists.
        dataset_for(sub.session, dataset_id=spec.dataset, user=sub.user, need="use")
    mode = kind.mode(spec.mode)
    _check_webhook(spec)
    found = _read_inputs(sub, spec, mode)
    params = validate_params(
        resource.kind, spec.mode, spec.params, found.uploads, config=version.config, dataset=found.snapshot
    )
    if mode.publishes(params):
        resolve_target(
            sub.session, user=sub.user, source=resource, publish_as=params.get("publish_as"), dataset=found.dataset
        )
    memory = task_memory(
        resource.kind,
        spec.mode,
        params,
        found.uploads,
        config=version.config,
        dataset=found.snapshot,
        settings=sub.settings,
    )
    lane = sub.dispatcher.choose_lane(
        requested=spec.lane, mode=spec.mode, warm=mode.warm, input_count=len(found.uploads), memory=memory
    )
    check_quotas(sub, stores=mode.stores)
    task, created = task_rows.create_task(
        sub.session,
        owner=sub.user,
        resource=resource,
        version=version,
        mode=spec.mode,
        params=params,
        inputs=spec.inputs,
        lane=lane,
        idempotency_key=idempotency.key,
        idempotency_digest=idempotency.digest,
        dataset_id=found.snapshot.id if found.snapshot else None,
        dataset_digest=found.snapshot.digest if found.snapshot else None,
    )
    if created and spec.webhook is not None:
        task_hooks.attach(sub.session, task, url=spec.webhook, events=spec.webhook_events_filter)
    if created:
        for item in (resource, found.dataset):
            if item is not None:
                detail = {"task": task.id, "mode": spec.mode, "version": version.number}
                record_for_owner(
                    sub.session, actor=sub.user, action="task.submit", target=item, detail=detail, address=sub.address
                )
    launch(sub, task, created=created, snapshot=found.snapshot)
    return task, created


def _check_webhook(spec: TaskCreate) -> None:
    """The task's `webhook`, when it names one, may receive webhooks (public addresses unless an admin allows
    more); a filter needs a webhook."""
    if spec.webhook is not None:
        task_hooks.check_task_webhook(spec.webhook, AddressPolicy.from_settings(get_webhook_settings()))
    elif spec.webhook_events_filter is not None:
        raise InvalidInput("`webhook_events_filter` needs a `webhook` URL to send the events to", field="webhook")


def submit_augment(
    sub: Submitter, dataset_ref: str, raw: dict[str, Any], idempotency: Idempotency
) -> tuple[Task, bool]:
    """Validate an augmentation of a dataset (the `dataset` kind's augment mode), store it and hand it over."""
    mode = KINDS.mode(DATASET_KIND, Mode.AUGMENT)
    dataset = dataset_for(sub.session, dataset_id=dataset_ref, user=sub.user, need="use")
    params = validate_params(DATASET_KIND, Mode.AUGMENT, raw, [])
    snapshot = take_snapshot(sub.session, dataset)
    photos = len(snapshot.items)
    if photos == 0:
        raise InvalidInput(f"dataset {dataset.name!r} has no photos; add photos before augmenting it", field="dataset")
    derived = photos * (len(params["operations"]) + int(params["keep_original"]))
    if derived > MAX_DERIVED_PHOTOS:
        raise InvalidInput(
            f"dataset {dataset.name!r} would grow to {derived} photos; at most {MAX_DERIVED_PHOTOS} — use fewer "
            "operations or a smaller dataset",
            field="params.operations",
        )
    check_quotas(sub, stores=mode.stores)
    task, created = task_rows.create_task(
        sub.session,
        owner=sub.user,
        resource=None,
        version=None,
        mode=Mode.AUGMENT,
        params=params,
        inputs=[],
        lane=Lane.BATCH,
        idempotency_key=idempotency.key,
        idempotency_digest=idempotency.digest,
        dataset_id=snapshot.id,
        dataset_digest=snapshot.digest,
    )
    if created:
        detail = {"task": task.id, "mode": "augment"}
        record_for_owner(
            sub.session, actor=sub.user, action="task.submit", target=dataset, detail=detail, address=sub.address
        )
    launch(sub, task, created=created, snapshot=snapshot)
    return task, created


def reproduce(sub: Submitter, task_id: str) -> Task:
    """Run a succeeded task again: same version, same inputs or dataset snapshot, same parameters and seed."""
    original = reproducible_task(sub.session, task_id=task_id, user=sub.user)
    resource = version = None
    kind = DATASET_KIND
    if original.version_id is not None:  # a task on a dataset alone (augment) runs no version
        resource = sub.session.get(Resource, original.resource_id)
        version = sub.session.get(ResourceVersion, original.version_id)
        if resource is None or version is None:
            raise NotFound(f"the resource version task {original.id} ran no longer exists")
        require(sub.session, resource, sub.user, need="use")
        kind = resource.kind
    snapshot = None
    if original.dataset_id is not None:
        dataset_for(sub.session, dataset_id=original.dataset_id, user=sub.user, need="use")
        snapshot = load_snapshot(store=sub.store, task_id=original.id)
    submitter = sub.session.get(User, original.owner_id)
    if original.inputs and submitter is not None:
        uploads_for_task(sub.session, owner=submitter, upload_ids=original.inputs)  # still stored
    check_quotas(sub, stores=KINDS.mode(kind, original.mode).stores)
    task, _ = task_rows.create_task(
        sub.session,
        owner=sub.user,
        resource=resource,
        version=version,
        mode=original.mode,
        params=dict(original.params),
        inputs=list(original.inputs),
        lane=original.lane,
        idempotency_key=None,
        dataset_id=original.dataset_id,
        dataset_digest=original.dataset_digest,
        reproduces_id=original.id,
    )
    launch(sub, task, created=True, snapshot=snapshot)
    return task


def launch(sub: Submitter, task: Task, *, created: bool, snapshot: DatasetSnapshot | None) -> None:
    """Store a new task's dataset snapshot, commit it and hand it to Prefect in the background (if Prefect
    is away it stays pending for the reaper). The caller answers at once, without waiting for Prefect."""
    if not created:
        sub.session.commit()
        return
    if snapshot is not None:
        store_snapshot(store=sub.store, task_id=task.id, snapshot=snapshot)
    execution = execution_of(sub.session, version_id=task.version_id) if task.version_id else None
    # Commit (the worker reads the row from its own connection), then hand the task to Prefect on the
    # dispatcher's threads: the answer (202, status pending) does not wait for Prefect.
    sub.session.commit()
    sub.dispatcher.in_background(
        partial(
            _dispatch, task.id, lane=task.lane, execution=execution, settings=sub.settings, dispatcher=sub.dispatcher
        )
    )


def _dispatch(
    task_id: str, *, lane: str, execution: ExecutionSpec | None, settings: Settings, dispatcher: Dispatcher
) -> None:
    try:
        dispatch_id = dispatcher.submit(task_id, lane=lane, execution=execution)
    except ServiceUnavailable as error:  # the task stays pending; the reaper submits it when Prefect is back
        log.warning("task %s stored but not yet submitted: %s", task_id, error.message)
        return
    except ExecutionNotAllowed as error:  # the policy changed since the version was stored: fail, start nothing
        fail_not_allowed(settings, task_id, error)
        return
    # The worker may already be writing the row: change it on a fresh read (optimistic locking).
    task_rows.change_task(
        settings.resolved_database_url,
        task_id,
        lambda s, row: task_rows.mark_scheduled(s, task=row, dispatch_id=dispatch_id),
    )
