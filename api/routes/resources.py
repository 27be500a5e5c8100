"""Resources and their immutable versions."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi.concurrency import run_in_threadpool
from sqlmodel import col, select

from api.deps import CurrentUser, OptionalUser, PageDep, SessionDep, SettingsDep, StoreDep
from api.kinds import check_weights, validate_config
from api.staging import stage
from commons.errors import InvalidInput
from registry.models import ResourceVersion
from registry.permissions import resource_for
from registry.resources import create_resource, list_visible, to_public, to_public_many, update_resource
from registry.schemas import ExecutionSpec, ResourceCreate, ResourcePublic, ResourceUpdate, VersionPublic
from registry.versions import check_files, create_version, get_version, version_public
from resources.schema import parse_model

router = APIRouter(prefix="/resources", tags=["resources"])


def _json_field(raw: str | None, *, field: str, expect: type) -> Any:
    if raw is None or raw == "":
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{field} is not valid JSON: {error.msg} at position {error.pos}", field=field) from error
    if not isinstance(value, expect):
        raise InvalidInput(f"{field} must be a JSON {expect.__name__.replace('dict', 'object')}", field=field)
    return value


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ResourcePublic)
def create(spec: ResourceCreate, user: CurrentUser, session: SessionDep) -> ResourcePublic:
    return to_public(session, create_resource(session, owner=user, spec=spec), user)


@router.get("", response_model=list[ResourcePublic])
def list_resources(user: OptionalUser, session: SessionDep, page: PageDep) -> list[ResourcePublic]:
    return to_public_many(session, list_visible(session, user, limit=page.limit, offset=page.offset), user)


@router.get("/{name}", response_model=ResourcePublic)
def read(name: str, user: OptionalUser, session: SessionDep) -> ResourcePublic:
    return to_public(session, resource_for(session, name=name, user=user), user)


@router.patch("/{name}", response_model=ResourcePublic)
def update(name: str, changes: ResourceUpdate, user: CurrentUser, session: SessionDep) -> ResourcePublic:
    resource = resource_for(session, name=name, user=user, need="modify")
    return to_public(session, update_resource(session, resource=resource, changes=changes), user)


@router.post("/{name}/versions", status_code=status.HTTP_201_CREATED, response_model=VersionPublic)
async def upload_version(
    name: str,
    user: CurrentUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    config: Annotated[str, Form(description="The kind's config as a JSON object.")],
    files: Annotated[
        list[UploadFile] | None,
        File(description="Weights and any other files; none for an architecture-only classifier version."),
    ] = None,
    sha256: Annotated[str | None, Form(description="JSON map file name → expected sha256.")] = None,
    parent: Annotated[int | None, Form(description="Version number this one derives from.")] = None,
    reported_metrics: Annotated[str | None, Form(description="JSON object of published figures.")] = None,
    execution: Annotated[
        str | None,
        Form(
            description='JSON object: {"image", "gpu": {"count", "min_memory_gb", "shareable"}, "cpu", "memory_gb"} '
            "— what the version's tasks ask of a docker or kubernetes work pool."
        ),
    ] = None,
) -> VersionPublic:
    resource = await run_in_threadpool(resource_for, session, name=name, user=user, need="modify")
    raw_config = _json_field(config, field="config", expect=dict)
    if raw_config is None:
        raise InvalidInput("config is required: the kind's config as a JSON object", field="config")
    normalised = validate_config(resource.kind, raw_config)
    declared = _json_field(sha256, field="sha256", expect=dict)
    metrics = _json_field(reported_metrics, field="reported_metrics", expect=dict)
    raw_execution = _json_field(execution, field="execution", expect=dict)
    execution_spec = parse_model(ExecutionSpec, raw_execution, prefix="execution") if raw_execution else None
    folder = Path(tempfile.mkdtemp(prefix="commons-version-"))
    try:
        staged = [await stage(item, folder=folder, limit=settings.max_weights_bytes) for item in files or []]
        required_file = normalised.get("checkpoint")  # None: an architecture-only version
        check_files(staged, declared, required_file=required_file)
        await run_in_threadpool(check_weights, resource.kind, normalised, staged)
        row = await run_in_threadpool(
            lambda: create_version(
                session,
                store=store,
                resource=resource,
                actor=user,
                files=staged,
                config=normalised,
                declared_sha256=declared,
                parent=parent,
                reported_metrics=metrics,
                required_file=required_file,
                execution=execution_spec,
            )
        )
        return version_public(session, resource, row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get("/{name}/versions", response_model=list[VersionPublic])
def list_versions(name: str, user: OptionalUser, session: SessionDep) -> list[VersionPublic]:
    resource = resource_for(session, name=name, user=user)
    rows = session.exec(
        select(ResourceVersion).where(ResourceVersion.resource_id == resource.id).order_by(col(ResourceVersion.number))
    )
    return [version_public(session, resource, row) for row in rows]


@router.get("/{name}/versions/{version}", response_model=VersionPublic)
def read_version(name: str, version: str, user: OptionalUser, session: SessionDep) -> VersionPublic:
    resource = resource_for(session, name=name, user=user)
    return version_public(session, resource, get_version(session, resource, version))
