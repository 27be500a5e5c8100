"""The execution policy: which images a version may name and how many GPUs, CPU cores and GB of memory its tasks
may ask for, per role; refused at upload (422 naming the field) and again at dispatch (the task fails, nothing
starts). Unit tests of registry.execution_policy, then the running stack."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from commons.db import get_engine, session_scope
from commons.errors import ExecutionNotAllowed, InvalidInput
from commons.settings import DEFAULT_ALLOWED_IMAGES, Settings
from launcher.client import CommonsClient
from registry.clock import utcnow
from registry.execution_policy import caps_for, check_dispatch, check_upload, image_allowed
from registry.migrate import upgrade
from registry.models import Resource, ResourceVersion, Task
from registry.schemas import ExecutionSpec
from resources.sam.model import TINY_CONFIG
from services.dispatch import Dispatcher
from services.reaper import reconcile_once
from tests.api.conftest import AUTO_PARAMS, Published
from tests.conftest import RunningStack
from tests.factories import pending_task, two_passes

ALLOWED = DEFAULT_ALLOWED_IMAGES[1]
FOREIGN = "ghcr.io/someone/crypto-miner:1"


def spec(**values: Any) -> ExecutionSpec:
    return ExecutionSpec.model_validate(values)


# --- the policy module -------------------------------------------------------------------------------


def test_images_come_from_the_allow_list() -> None:
    assert image_allowed("model-commons/worker:0.1.0", list(DEFAULT_ALLOWED_IMAGES))
    assert not image_allowed("model-commons/worker:0.1.0-evil", list(DEFAULT_ALLOWED_IMAGES))
    assert image_allowed("ghcr.io/lab/sam:2", ["ghcr.io/lab/*"])
    assert not image_allowed("ghcr.io/other/sam:2", ["ghcr.io/lab/*"])
    assert not image_allowed("anything:1", [])

    settings = Settings()
    check_upload(spec(image=ALLOWED), settings=settings, is_admin=False)
    check_upload(spec(gpu={"count": 1}), settings=settings, is_admin=False)  # no image: the deployment's own
    with pytest.raises(InvalidInput) as refused:
        check_upload(spec(image=FOREIGN), settings=settings, is_admin=True)  # admins too: the list is the list
    assert refused.value.field == "execution.image"
    assert FOREIGN in refused.value.message
    assert all(image in refused.value.message for image in DEFAULT_ALLOWED_IMAGES)
    assert not isinstance(refused.value, ExecutionNotAllowed)


@pytest.mark.parametrize(
    ("values", "field", "cap"),
    [
        ({"gpu": {"count": 2}}, "execution.gpu.count", "cap of 1 for users (COMMONS_MAX_GPUS)"),
        ({"cpu": 8.5}, "execution.cpu", "cap of 8 for users (COMMONS_MAX_CPU)"),
        ({"memory_gb": 65}, "execution.memory_gb", "cap of 64 GB for users (COMMONS_MAX_MEMORY_GB)"),
    ],
)
def test_resources_are_capped_per_role(values: dict[str, Any], field: str, cap: str) -> None:
    settings = Settings(max_gpus=1, max_cpu=8, max_memory_gb=64, admin_max_gpus=4, admin_max_cpu=32)
    with pytest.raises(InvalidInput) as refused:
        check_upload(spec(**values), settings=settings, is_admin=False)
    assert refused.value.field == field
    assert cap in refused.value.message
    check_upload(spec(**values), settings=settings, is_admin=True)  # within the admin caps
    check_upload(spec(gpu={"count": 1}, cpu=8, memory_gb=64), settings=settings, is_admin=False)  # at the caps


def test_the_admin_caps_are_the_ceiling() -> None:
    settings = Settings(admin_max_gpus=4, admin_max_cpu=32, admin_max_memory_gb=256)
    assert caps_for(settings, is_admin=True).gpus == 4
    check_upload(spec(gpu={"count": 4}, cpu=32, memory_gb=256), settings=settings, is_admin=True)
    with pytest.raises(InvalidInput, match=r"5 GPUs per task is over the cap of 4 for admins \(COMMONS_ADMIN_MAX_GPUS"):
        check_upload(spec(gpu={"count": 5}), settings=settings, is_admin=True)
    with pytest.raises(InvalidInput) as refused:  # every fault is named; the field is the first
        check_upload(spec(image=FOREIGN, cpu=33, memory_gb=300), settings=settings, is_admin=True)
    assert refused.value.field == "execution.image"
    assert "33 CPU cores" in refused.value.message and "300 GB" in refused.value.message


def test_dispatch_checks_again_with_the_settings_of_now() -> None:
    """A version stored while the policy allowed it is refused once the allow-list or the ceiling changed."""
    stored = spec(image="ghcr.io/lab/sam:1", gpu={"count": 4})
    before = Settings(allowed_images=["ghcr.io/lab/*"], admin_max_gpus=8)
    check_dispatch(stored, settings=before)
    check_dispatch(None, settings=before)
    after = Settings(allowed_images=list(DEFAULT_ALLOWED_IMAGES), admin_max_gpus=8)
    with pytest.raises(ExecutionNotAllowed, match="the task was not started") as refused:
        check_dispatch(stored, settings=after)
    assert "ghcr.io/lab/sam:1" in refused.value.message and refused.value.field == "execution.image"
    with pytest.raises(ExecutionNotAllowed, match="over the cap of 2"):
        check_dispatch(stored, settings=before.model_copy(update={"admin_max_gpus": 2}))


def test_the_dispatcher_starts_nothing_the_policy_refuses(shared_services: Settings) -> None:
    settings = shared_services.model_copy(
        update={"work_pool": f"policy-{uuid.uuid4().hex[:8]}", "allowed_images": [ALLOWED]}
    )
    dispatcher = Dispatcher(settings)
    try:
        with pytest.raises(ExecutionNotAllowed, match=FOREIGN):
            dispatcher.submit(uuid.uuid4().hex, lane="batch", execution=spec(image=FOREIGN))
        with pytest.raises(ExecutionNotAllowed, match="over the cap"):
            dispatcher.submit(uuid.uuid4().hex, lane="warm", execution=spec(gpu={"count": 16}))
    finally:
        dispatcher.close()


def test_the_reaper_fails_a_pending_task_the_policy_refuses(shared_services: Settings, tmp_path: Path) -> None:
    """A task left pending (Prefect was away) whose version the policy refuses by the time the reaper submits it
    ends `failed` with the reason; nothing reaches Prefect."""
    database_url = f"sqlite:///{tmp_path / 'policy.db'}"
    upgrade(database_url)
    settings = shared_services.model_copy(update={"database_url": database_url, "data_dir": tmp_path})
    with Session(get_engine(database_url), expire_on_commit=False) as session:
        # stored while the allow-list still had the image
        task = pending_task(session, owner_name="stale-spec", execution={"image": FOREIGN})
        task.created_at = utcnow() - timedelta(minutes=5)  # past the reaper's re-submission delay
        session.add(task)
        session.commit()
    assert two_passes(settings, reconcile_once) == [1, 0], "the task fails; a failed task is left alone"
    with Session(get_engine(database_url)) as session:
        row = session.get(Task, task.id)
        assert row is not None and row.status == "failed"
        assert row.dispatch_id is None and row.flow_run_id is None, "nothing was submitted to Prefect"
        assert "not started" in (row.error or "") and FOREIGN in (row.error or "")


def test_caps_above_the_ceiling_and_bad_image_lists_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(ValueError, match=r"COMMONS_MAX_GPUS \(4\) is above COMMONS_ADMIN_MAX_GPUS"):
        Settings(max_gpus=4, admin_max_gpus=2)
    monkeypatch.setenv("COMMONS_ALLOWED_IMAGES", "ghcr.io/lab/sam:1, model-commons/worker:*")
    assert Settings().allowed_images == ["ghcr.io/lab/sam:1", "model-commons/worker:*"]
    monkeypatch.setenv("COMMONS_ALLOWED_IMAGES", '["ghcr.io/lab/sam:1"]')
    assert Settings().allowed_images == ["ghcr.io/lab/sam:1"]
    monkeypatch.setenv("COMMONS_ALLOWED_IMAGES", "")
    assert Settings().allowed_images == []
    monkeypatch.setenv("COMMONS_ALLOWED_IMAGES", "ghcr.io/*/sam:1")
    with pytest.raises(ValueError, match="'\\*' only at the end"):
        Settings()


# --- the running stack ---------------------------------------------------------------------------------


def _post_version(client: CommonsClient, name: str, weights: Path, execution: dict[str, Any]) -> Any:
    return client.http.post(
        f"/resources/{name}/versions",
        data={"config": json.dumps(TINY_CONFIG), "execution": json.dumps(execution)},
        files=[("files", (weights.name, weights.read_bytes()))],
    )


def _resource(client: CommonsClient) -> str:
    name = f"sam-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=name, kind="segmenter.sam", title="Tiny SAM", visibility="private")
    return name


def test_upload_refuses_an_image_off_the_allow_list(stack: RunningStack, tiny_weights: Path) -> None:
    provider = stack.new_user()
    name = _resource(provider)
    refused = _post_version(provider, name, tiny_weights, {"image": FOREIGN})
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["field"] == "execution.image"
    assert FOREIGN in body["detail"]
    assert all(image in body["detail"] for image in stack.settings.allowed_images), body["detail"]
    assert provider.http.get(f"/resources/{name}/versions").json() == [], "nothing was stored"

    accepted = _post_version(provider, name, tiny_weights, {"image": ALLOWED, "gpu": {"count": 1}})
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["execution"]["image"] == ALLOWED


def test_upload_caps_resources_per_role(stack: RunningStack, tiny_weights: Path) -> None:
    settings = stack.settings
    provider = stack.new_user()
    name = _resource(provider)
    for execution, field in (
        ({"gpu": {"count": settings.max_gpus + 1}}, "execution.gpu.count"),
        ({"cpu": settings.max_cpu + 1}, "execution.cpu"),
        ({"memory_gb": settings.max_memory_gb + 1}, "execution.memory_gb"),
    ):
        refused = _post_version(provider, name, tiny_weights, execution)
        assert refused.status_code == 422, refused.text
        assert refused.json()["field"] == field
        assert "over the cap" in refused.json()["detail"]
    at_caps = {"gpu": {"count": settings.max_gpus}, "cpu": settings.max_cpu, "memory_gb": settings.max_memory_gb}
    assert _post_version(provider, name, tiny_weights, at_caps).status_code == 201

    stack.make_admin(provider)  # an admin may go up to the admin caps, not beyond
    admin_caps = {
        "gpu": {"count": settings.admin_max_gpus},
        "cpu": settings.admin_max_cpu,
        "memory_gb": settings.admin_max_memory_gb,
    }
    accepted = _post_version(provider, name, tiny_weights, admin_caps)
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["execution"]["gpu"]["count"] == settings.admin_max_gpus
    over = _post_version(provider, name, tiny_weights, {"gpu": {"count": settings.admin_max_gpus + 1}})
    assert over.status_code == 422 and over.json()["field"] == "execution.gpu.count", over.text
    assert "COMMONS_ADMIN_MAX_GPUS" in over.json()["detail"]


def test_a_task_on_a_version_the_policy_no_longer_allows_fails_without_starting(
    stack: RunningStack, published: Published, coffee_png: bytes
) -> None:
    """A version stored before the allow-list changed (written here straight into the registry): dispatch
    refuses it, and the task fails with the reason instead of starting that image."""
    with session_scope(stack.settings.resolved_database_url) as session:
        resource = session.exec(select(Resource).where(Resource.name == published.name)).one()
        version = session.exec(select(ResourceVersion).where(ResourceVersion.resource_id == resource.id)).one()
        version.execution = {"image": FOREIGN}
        session.add(version)
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    task = client.submit(resource=published.name, version="latest", inputs=[upload["id"]], params=AUTO_PARAMS)
    ended = client.wait(task["id"], timeout=60)
    assert ended["status"] == "failed", ended
    assert "not started" in ended["error"] and FOREIGN in ended["error"], ended["error"]
    assert ended["outputs"] == [] and ended["manifest_url"] is None
    assert ended["flow_run_id"] is None and ended["task_run_id"] is None, "no Prefect run was created"
    assert all(step["status"] == "skipped" for step in ended["steps"]), ended["steps"]
