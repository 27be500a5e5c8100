"""Where a task that makes weights (train, export, edit) publishes them, as a version with lineage.

A trained model becomes a new version of a resource the submitter may modify: the resource they trained
(when they hold `modify` on it), an existing resource of theirs named by `publish_as`, or a new private
resource of that name, created for them. The version's parent is the version training started from,
whatever resource it belongs to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, select

from commons.errors import Conflict, Forbidden
from commons.store import ObjectStore
from registry.models import Dataset, Resource, ResourceVersion, User
from registry.resources import create_resource
from registry.rights import Item, check_open_audience, item_type, record_lineage, rights, sources_of
from registry.schemas import ExecutionSpec, ResourceCreate
from registry.versions import StagedFile, create_version

TITLE_MAX = 200  # a resource title's limit (`ResourceCreate.title`)


@dataclass(frozen=True)
class PublishTarget:
    name: str
    existing: Resource | None


def resolve_target(
    session: Session, *, user: User, source: Resource, publish_as: str | None, dataset: Dataset | None = None
) -> PublishTarget:
    """The resource a training by `user` on `source` (and `dataset`) will publish to; refused with what to do
    instead. `publish_as` names a resource in the user's own namespace (names live under their owner, so
    another user's names neither block nor leak); the source's own name, when the user may modify the source
    and has no resource of that name, means the source. An existing target must not be open beyond the
    audience of what the new version is made from."""
    own = (
        session.exec(select(Resource).where(Resource.owner_id == user.id, Resource.name == publish_as)).first()
        if publish_as is not None
        else None
    )
    if publish_as is None or (own is None and publish_as == source.name and "modify" in rights(session, source, user)):
        if "modify" not in rights(session, source, user):
            raise Forbidden(
                f"you may use {source.name!r} but not modify it, so the trained weights cannot become its next "
                "version; name a new resource of yours in params.publish_as",
                field="params.publish_as",
            )
        check_open_audience(session, source, sources=made_from(session, source=source, target=source, dataset=dataset))
        return PublishTarget(name=source.name, existing=source)
    if own is None:
        return PublishTarget(name=publish_as, existing=None)
    if own.kind != source.kind:
        raise Conflict(
            f"your {publish_as!r} is a {own.kind} resource; a trained {source.kind} cannot be a version of it",
            field="params.publish_as",
        )
    check_open_audience(session, own, sources=made_from(session, source=source, target=own, dataset=dataset))
    return PublishTarget(name=publish_as, existing=own)


def made_from(session: Session, *, source: Resource, target: Resource, dataset: Dataset | None) -> list[Item]:
    """What a version published to `target` from `source` (trained on `dataset`) is made from, transitively."""
    direct: list[Item] = [item for item in (source, dataset) if item is not None and item is not target]
    found = sources_of(session, [(item_type(item), item.id) for item in direct])
    return [*direct, *(further for item in direct for further in found[(item_type(item), item.id)])]


def architecture_name(config: dict[str, Any]) -> str | None:
    """What a classifier's config says the model is: "ResNet-18" (arch resnet18), "CNN from blocks"; None when
    it says neither."""
    arch = config.get("arch")
    if isinstance(arch, str) and arch.startswith("resnet") and arch[len("resnet") :].isdigit():
        return f"ResNet-{arch[len('resnet') :]}"
    if isinstance(arch, str) and arch:
        return arch
    if isinstance(config.get("blocks"), list):
        return "CNN from blocks"
    return None


def new_title(
    source: Resource, *, config: dict[str, Any], reported_metrics: dict[str, Any], provenance: dict[str, Any]
) -> str:
    """The title of a resource made to hold a task's version: for a training, what the model is and what it
    was trained on ("ResNet-18 trained on Handwritten digits, 83 % val."; no accuracy without validation);
    else the source's title and how it was derived. At most `TITLE_MAX` characters."""
    mode = str(provenance.get("mode"))
    if mode != "train":
        how = {"export": "in INT8", "edit": "with edited weights"}.get(mode, "derived")
        return f"{source.title} {how}"[:TITLE_MAX]
    what = architecture_name(config) or source.title
    dataset = str((provenance.get("dataset") or {}).get("name") or "a dataset")
    accuracy = reported_metrics.get("val_accuracy")
    measured = f", {accuracy * 100:.0f} % val." if isinstance(accuracy, int | float) else ""
    room = TITLE_MAX - len(f"{what} trained on ") - len(measured)
    if len(dataset) > room:
        dataset = dataset[: max(room - 1, 0)] + "…"
    return f"{what} trained on {dataset}{measured}"[:TITLE_MAX]


def publish_trained_version(
    session: Session,
    *,
    store: ObjectStore,
    owner: User,
    source: Resource,
    parent: ResourceVersion,
    publish_as: str | None,
    weights: StagedFile,
    config: dict[str, Any],
    reported_metrics: dict[str, Any],
    provenance: dict[str, Any],
) -> tuple[Resource, ResourceVersion]:
    """Create (if needed) the target resource and its next version holding `weights`; returns both."""
    dataset_id = (provenance.get("dataset") or {}).get("id")
    trained_on = session.get(Dataset, dataset_id) if dataset_id else None
    target = resolve_target(session, user=owner, source=source, publish_as=publish_as, dataset=trained_on)
    resource = target.existing
    if resource is None:
        resource = create_resource(
            session,
            owner=owner,
            spec=ResourceCreate(
                name=target.name,
                kind=source.kind,
                title=new_title(source, config=config, reported_metrics=reported_metrics, provenance=provenance),
                description=f"Made by {provenance.get('mode', 'a')} task {provenance.get('task')} from {source.name} "
                f"version {parent.number}.",
                citation=source.citation,
                license=source.license,
                visibility="private",
            ),
        )
    version = create_version(
        session,
        store=store,
        resource=resource,
        actor=owner,
        files=[weights],
        config=config,
        declared_sha256=None,
        parent=parent,
        reported_metrics=reported_metrics,
        required_file=weights.name,
        provenance=provenance,
        execution=ExecutionSpec.model_validate(parent.execution) if parent.execution else None,
    )
    inputs: list[Item] = [item for item in (source, trained_on) if item is not None]
    record_lineage(session, item=resource, sources=inputs, task_id=provenance.get("task"))
    return resource, version
