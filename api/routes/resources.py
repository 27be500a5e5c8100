"""Resources and their immutable versions."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any, Final

from fastapi import APIRouter, File, Form, UploadFile, status
from fastapi import Path as PathParam
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import RedirectResponse

from api.deps import ClientAddress, CurrentUser, OptionalUser, PageDep, SessionDep, SettingsDep, StoreDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.staging import stage
from commons import strict_json
from commons.errors import Forbidden, InvalidInput, NotFound
from commons.settings import Settings
from flows.kinds import KINDS
from registry.audit import record_for_owner, record_policy_changes
from registry.execution_policy import check_upload
from registry.quotas import check_owner_storage
from registry.resources import create_resource, list_visible, update_resource
from registry.rights import check_files_readable, resource_for, run_only_owner
from registry.schemas import MAX_VERSION, ExecutionSpec, ResourceCreate, ResourcePublic, ResourceUpdate, VersionPublic
from registry.versions import check_files, create_version, file_key, get_version, versions_of
from registry.views.resources import resource_view, resource_views
from registry.views.versions import version_view
from resources.schema import parse_model
from services.kinds import check_config_cost, check_weights, validate_config

router = APIRouter(prefix="/resources", tags=["resources"])
# GET/PATCH /resources/{ref}: included after every longer /resources/{ref}/… route (see api.routes.refs)
item_router = APIRouter(prefix="/resources", tags=["resources"])


MAX_JSON_FIELD_CHARS: Final = 256 * 1024  # a config, a file → sha256 map, figures: a few kB each
SHA256_HEX = re.compile(r"^(?:sha256:)?[0-9a-fA-F]{64}$")
# `latest`, or a number of at most 10 digits (get_version refuses those above MAX_VERSION by name).
VersionRef = Annotated[
    str, PathParam(pattern=r"^(latest|[0-9]{1,10})$", description=f"A version number (1 to {MAX_VERSION}) or 'latest'.")
]


def _json_field(raw: str | None, *, field: str, expect: type) -> Any:
    """A form field's JSON, parsed with limits (size, nesting, digits; no NaN or Infinity): 422 naming the field."""
    if raw is None or raw == "":
        return None
    if len(raw) > MAX_JSON_FIELD_CHARS:
        raise InvalidInput(f"{field} is longer than {MAX_JSON_FIELD_CHARS} characters; send less", field=field)
    try:
        value = strict_json.loads(raw, prefix=field)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{field} is not valid JSON: {error.msg} at position {error.pos}", field=field) from error
    except strict_json.JsonRefused as refused:
        raise InvalidInput(f"{refused.path or field}: {refused.problem}", field=refused.path or field) from refused
    if not isinstance(value, expect):
        raise InvalidInput(f"{field} must be a JSON {expect.__name__.replace('dict', 'object')}", field=field)
    return value


def _declared_sha256(raw: str | None) -> dict[str, str] | None:
    """The `sha256` field: a JSON object of file name → 64 hex digits (optionally prefixed 'sha256:')."""
    declared = _json_field(raw, field="sha256", expect=dict)
    for name, digest in (declared or {}).items():
        if not isinstance(digest, str) or not SHA256_HEX.match(digest):
            raise InvalidInput(
                f"sha256 of {name[:200]!r} must be a string of 64 hex digits, not {json.dumps(digest)[:80]}",
                field=f"sha256.{name[:200]}",
            )
    return declared


def _config(raw: str) -> dict[str, Any]:
    """The `config` field: a JSON object, required."""
    parsed: dict[str, Any] | None = _json_field(raw, field="config", expect=dict)
    if parsed is None:
        raise InvalidInput("config is required: the kind's config as a JSON object", field="config")
    return parsed


def _execution(raw: str | None, *, settings: Settings, is_admin: bool) -> ExecutionSpec | None:
    """The `execution` field, parsed and within the caller's limits (allowed images, per-role caps on GPUs, CPU
    and memory); None when it is left out."""
    raw_execution = _json_field(raw, field="execution", expect=dict)
    execution_spec = parse_model(ExecutionSpec, raw_execution, prefix="execution") if raw_execution else None
    if execution_spec is not None:
        check_upload(execution_spec, settings=settings, is_admin=is_admin)
    return execution_spec


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ResourcePublic)
def create(spec: ResourceCreate, user: CurrentUser, session: SessionDep) -> ResourcePublic:
    """A new resource of a kind the commons runs (`flows/kinds/`): an unknown kind is a 422 naming the known ones."""
    KINDS.resource_kind(spec.kind)
    return resource_view(session, create_resource(session, owner=user, spec=spec), user)


@router.get("", response_model=list[ResourcePublic])
def list_resources(user: OptionalUser, session: SessionDep, page: PageDep) -> list[ResourcePublic]:
    return resource_views(session, list_visible(session, user, limit=page.limit, offset=page.offset), user)


@item_router.get("/{name:ref}", response_model=ResourcePublic)
def read(name: str, user: OptionalUser, session: SessionDep) -> ResourcePublic:
    return resource_view(session, resource_for(session, name=name, user=user), user)


@item_router.patch("/{name:ref}", response_model=ResourcePublic)
def update(
    name: str, changes: ResourceUpdate, user: CurrentUser, session: SessionDep, address: ClientAddress
) -> ResourcePublic:
    """Edit the description (`modify`); visibility, derivatives and download are the owner's to change."""
    resource = resource_for(session, name=name, user=user, need="modify")
    before = {field: getattr(resource, field) for field in ResourceUpdate.OWNER_FIELDS}
    updated = update_resource(session, resource=resource, changes=changes, actor=user)
    record_policy_changes(session, actor=user, item=updated, before=before, address=address)
    return resource_view(session, updated, user)


@router.post("/{name:ref}/versions", status_code=status.HTTP_201_CREATED, response_model=VersionPublic)
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
    parent: Annotated[
        int | None, Form(ge=1, le=MAX_VERSION, description="Version number this one derives from.")
    ] = None,
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
    normalised = validate_config(resource.kind, _config(config))
    await run_in_threadpool(check_config_cost, resource.kind, normalised, settings=settings)
    declared = _declared_sha256(sha256)
    metrics = _json_field(reported_metrics, field="reported_metrics", expect=dict)
    execution_spec = _execution(execution, settings=settings, is_admin=user.is_admin)
    folder = Path(tempfile.mkdtemp(prefix="commons-version-"))
    try:
        staged = [await stage(item, folder=folder, limit=settings.max_weights_bytes) for item in files or []]
        required_file = normalised.get("checkpoint")  # None: an architecture-only version
        check_files(staged, declared, required_file=required_file)
        adding = sum(item.size for item in staged)
        await run_in_threadpool(
            check_owner_storage, session, owner_id=resource.owner_id, settings=settings, adding=adding
        )
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
        return version_view(session, resource, row)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.get("/{name:ref}/versions", response_model=list[VersionPublic])
def list_versions(name: str, user: OptionalUser, session: SessionDep) -> list[VersionPublic]:
    resource = resource_for(session, name=name, user=user)
    return [version_view(session, resource, row) for row in versions_of(session, resource)]


@router.get(
    "/{name:ref}/versions/{version}/files/{file_name}",
    status_code=status.HTTP_307_TEMPORARY_REDIRECT,
    response_class=RedirectResponse,
    responses={307: {"description": "A short-lived presigned URL of the file in the object store."}},
)
def download_file(
    name: str,
    version: VersionRef,
    file_name: str,
    user: OptionalUser,
    session: SessionDep,
    store: StoreDep,
    settings: SettingsDep,
    address: ClientAddress,
) -> RedirectResponse:
    """Redirect to the file (presigned for a few minutes). Refused (403) when the resource, or one it was made
    from, is run-only (`download: false`) and you are not its owner."""
    resource = resource_for(session, name=name, user=user)
    check_files_readable(session, resource, user)
    row = get_version(session, resource, version)
    entry = next((f for f in row.files if f["name"] == file_name), None)
    if entry is None:
        raise NotFound(
            f"version {row.number} of {name!r} has no file {file_name!r}; its files are listed in the version"
        )
    holder = run_only_owner(session, resource, user)
    if holder is not None:
        raise Forbidden(
            f"{holder.name!r} is run-only: its owner lets others run tasks on it but not download its files"
            + ("" if holder.id == resource.id else f", nor those of {name!r}, which is made from it")
        )
    if resource.visibility != "public" and user is not None:
        detail = {"version": row.number, "file": file_name}
        record_for_owner(session, actor=user, action="file.download", target=resource, detail=detail, address=address)
    url = store.presigned_url(file_key(resource.id, row.number, entry), expires_seconds=settings.presign_expiry_seconds)
    return RedirectResponse(url, status_code=status.HTTP_307_TEMPORARY_REDIRECT)


@router.get("/{name:ref}/versions/{version}", response_model=VersionPublic)
def read_version(name: str, version: VersionRef, user: OptionalUser, session: SessionDep) -> VersionPublic:
    resource = resource_for(session, name=name, user=user)
    return version_view(session, resource, get_version(session, resource, version))
