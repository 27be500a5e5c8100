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
from registry.models import Resource, ResourceVersion, User
from registry.permissions import rights
from registry.resources import create_resource
from registry.schemas import ExecutionSpec, ResourceCreate
from registry.versions import StagedFile, create_version


@dataclass(frozen=True)
class PublishTarget:
    name: str
    existing: Resource | None


def resolve_target(session: Session, *, user: User, source: Resource, publish_as: str | None) -> PublishTarget:
    """The resource a training by `user` on `source` will publish to; refused with what to do instead."""
    if publish_as is None or publish_as == source.name:
        if "modify" not in rights(session, source, user):
            raise Forbidden(
                f"you may use {source.name!r} but not modify it, so the trained weights cannot become its next "
                "version; name a new resource of yours in params.publish_as",
                field="params.publish_as",
            )
        return PublishTarget(name=source.name, existing=source)
    existing = session.exec(select(Resource).where(Resource.name == publish_as)).first()
    if existing is None:
        return PublishTarget(name=publish_as, existing=None)
    if "modify" not in rights(session, existing, user):
        raise Conflict(
            f"the name {publish_as!r} is taken by a resource you cannot modify; choose another params.publish_as",
            field="params.publish_as",
        )
    if existing.kind != source.kind:
        raise Conflict(
            f"{publish_as!r} is a {existing.kind} resource; a trained {source.kind} cannot be a version of it",
            field="params.publish_as",
        )
    return PublishTarget(name=publish_as, existing=existing)


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
    target = resolve_target(session, user=owner, source=source, publish_as=publish_as)
    resource = target.existing
    if resource is None:
        dataset = (provenance.get("dataset") or {}).get("name", "a dataset")
        made = {"train": f"trained on {dataset}", "export": "in INT8", "edit": "with edited weights"}
        how = made.get(str(provenance.get("mode")), "derived")
        resource = create_resource(
            session,
            owner=owner,
            spec=ResourceCreate(
                name=target.name,
                kind=source.kind,
                title=f"{source.title} {how}"[:200],
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
    return resource, version
