"""A task in a container through Prefect's Docker work pool, as deploy/README.md sets it up.

On the host: the session's Prefect server, an object store of this module's own (a real secret: the task
container runs in production mode), a PostgreSQL database, the API, and a Prefect worker of type docker
(prefect-docker). The pool is created from deploy/work-pools/docker.json and the deployment applied from
deploy/prefect.yaml by Prefect's own CLI, with this host's overrides as `--job-variable`s: the containers use the
host's network (the services listen on 127.0.0.1) and no default GPU (there is none here). Each flow run starts a
container of the worker image built by deploy/build-images.sh.

What the engine shows is read from the engine: its events (create, start, die, destroy) and its inspect of each
container, taken just before the container's start request reaches it (the worker talks to the engine through
tests/docker/engine_proxy.py, which passes everything on). A version that declares a GPU gets a container whose
configuration carries the NVIDIA device request; this machine has no NVIDIA runtime, so the engine cannot start
it, removes it (auto_remove), and the task fails with the engine's reason (on a GPU host it would start with the
GPU).
"""

from __future__ import annotations

import json
import secrets
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker
import httpx
import numpy as np
import pytest
import yaml
from skimage import data as skdata

from commons.settings import Settings
from commons.store import ObjectStore, keys
from launcher.client import CommonsClient
from launcher.stack import BIN, Stack
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import RunningStack, api_settings, free_port_block, running
from tests.docker.conftest import ROOT, TEST_LABEL, Images, remove_labelled_containers
from tests.docker.engine_proxy import InspectBeforeStart

pytestmark = [pytest.mark.docker, pytest.mark.postgres, pytest.mark.timeout(3600)]

POOL = "commons-docker"
DEPLOYMENT = "docker"  # the deployment of deploy/prefect.yaml on that pool: run-task/docker
FLOW_RUN_LABEL = "io.prefect.flow-run-id"  # prefect-docker's label on each flow run's container
TASK_SECONDS = 300
PROMPT = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [[300, 200, 1]]}}
CREDENTIAL_WORDS = ("KEY", "SECRET", "PASSWORD", "TOKEN", "DATABASE_URL", "CREDENTIAL")


@dataclass
class DockerPool:
    stack: RunningStack
    store: ObjectStore
    label: str  # the containers of this module's flow runs carry TEST_LABEL=label
    client: docker.DockerClient
    worker_image: str
    proxy: InspectBeforeStart  # the worker's way to the engine

    def inspected(self, flow_run_id: str) -> list[dict[str, Any]]:
        """The engine's inspect of each container of the flow run, read just before its start."""
        return [c for c in self.proxy.inspected if c["Config"]["Labels"].get(FLOW_RUN_LABEL) == flow_run_id]


def deployment_environment(settings: Settings, images: Images) -> dict[str, str]:
    """What `prefect deploy` reads for deploy/prefect.yaml's {{ $VARS }} (README: Docker and Kubernetes pools)."""
    return {
        "PREFECT_API_URL": settings.resolved_prefect_api_url,
        "COMMONS_WORKER_IMAGE": images.worker,
        "COMMONS_DATABASE_URL": settings.resolved_database_url,
        "COMMONS_S3_ENDPOINT": settings.resolved_s3_endpoint,
        "COMMONS_S3_ACCESS_KEY": settings.s3_access_key,
        "COMMONS_S3_SECRET_KEY": settings.s3_secret_key,
        "COMMONS_S3_BUCKET": settings.s3_bucket,
    }


def prefect_cli(home: Path, environment: dict[str, str], *arguments: str) -> None:
    env = {"PATH": f"{BIN}:/usr/bin:/bin", "HOME": str(home), "DO_NOT_TRACK": "1", **environment}
    done = subprocess.run(
        [str(BIN / "prefect"), *arguments], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180, check=False
    )
    assert done.returncode == 0, (
        f"prefect {' '.join(arguments[:3])} failed:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    )


def create_pool_and_deployment(settings: Settings, images: Images, home: Path, label: str) -> None:
    """The README's commands. `prefect deploy --job-variable` would drop prefect.yaml's job variables (Prefect
    3.8.8 resets them when any is given), so this host's overrides go into a copy of deploy/prefect.yaml."""
    environment = deployment_environment(settings, images)
    template = str(ROOT / "deploy" / "work-pools" / "docker.json")
    prefect_cli(home, environment, "work-pool", "create", POOL, "--type", "docker", "--base-job-template", template)
    config = yaml.safe_load((ROOT / "deploy" / "prefect.yaml").read_text())
    (deployment,) = [d for d in config["deployments"] if d["name"] == DEPLOYMENT]
    deployment["work_pool"]["job_variables"].update(
        networks=[], network_mode="host", container_create_kwargs={"shm_size": "2g"}, labels={TEST_LABEL: label}
    )
    this_host = home / "prefect.yaml"
    this_host.write_text(yaml.safe_dump(config, sort_keys=False))
    prefect_cli(home, environment, "--no-prompt", "deploy", "--prefect-file", str(this_host), "--name", DEPLOYMENT)


def start_docker_worker(settings: Settings, home: Path, engine: Path) -> subprocess.Popen[bytes]:
    """`prefect worker start --type docker` with only what a worker host has: the Prefect API's address (and
    the Docker engine, here through the inspecting proxy at `engine`)."""
    env = {
        "DOCKER_HOST": f"unix://{engine}",
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(home),
        "PREFECT_API_URL": settings.resolved_prefect_api_url,
        "PREFECT_WORKER_QUERY_SECONDS": "1",
        "PREFECT_WORKER_PREFETCH_SECONDS": "0",
        "DO_NOT_TRACK": "1",
    }
    command = [str(BIN / "prefect"), "worker", "start", "--pool", POOL, "--type", "docker", "--name", home.name]
    with (home / "docker-worker.log").open("ab") as log:
        worker = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"{settings.resolved_prefect_api_url}/work_pools/{POOL}/workers/filter"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        assert worker.poll() is None, (home / "docker-worker.log").read_text()[-3000:]
        if any(w.get("status") == "ONLINE" for w in httpx.post(url, json={}, timeout=5).json()):
            return worker
        time.sleep(0.5)
    worker.terminate()
    raise RuntimeError(f"the docker worker did not come online: {(home / 'docker-worker.log').read_text()[-3000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def docker_pool(
    images: Images,
    docker_engine: docker.DockerClient,
    shared_services: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[DockerPool]:
    label = f"pool-{uuid.uuid4().hex[:12]}"
    home = tmp_path_factory.mktemp("docker-pool")
    s3 = Settings(
        data_dir=home / "s3",
        s3_port=free_port_block(),
        s3_access_key="commons-docker",
        s3_secret_key=secrets.token_hex(20),
    )
    with (
        running(Stack(s3), Stack.start_object_store),
        api_settings(
            shared_services,
            tmp_path_factory,
            backend="postgresql",
            work_pool=POOL,
            deployment_name=DEPLOYMENT,
            s3_endpoint=s3.resolved_s3_endpoint,
            s3_access_key=s3.s3_access_key,
            s3_secret_key=s3.s3_secret_key,
            secret_key=secrets.token_urlsafe(40),
            allowed_images=[images.worker],
            warm_workers=0,
            task_resubmit_attempts=0,  # a run the engine cannot start fails its task at once
        ) as settings,
    ):
        create_pool_and_deployment(settings, images, home, label)
        proxy = InspectBeforeStart(home / "engine.sock")
        worker = start_docker_worker(settings, home, proxy.path)
        try:
            with running(Stack(settings), Stack.start_api):
                yield DockerPool(
                    stack=RunningStack(settings=settings, backend="postgresql"),
                    store=ObjectStore.from_settings(settings),
                    label=label,
                    client=docker_engine,
                    worker_image=images.worker,
                    proxy=proxy,
                )
        finally:
            stop(worker)
            proxy.close()
            remove_labelled_containers(docker_engine, label)


@pytest.fixture(scope="module")
def coffee_png() -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(skdata.coffee())).save(buffer, format="PNG")
    return buffer.getvalue()


def publish_tiny_sam(
    pool: DockerPool, tmp_path: Path, *, execution: dict[str, Any] | None
) -> tuple[CommonsClient, str]:
    weights = tmp_path / TINY_CONFIG["checkpoint"]
    save_random_weights(parse_sam_config(TINY_CONFIG), weights, seed=0)
    owner = pool.stack.new_user()
    name = f"sam-{uuid.uuid4().hex[:8]}"
    owner.create_resource(name=name, kind="segmenter.sam", title="Tiny SAM", visibility="private", citation="test")
    owner.upload_version(name, files=[weights], config=TINY_CONFIG, execution=execution)
    return owner, name


def container_events(pool: DockerPool, since: datetime, flow_run_id: str) -> list[dict[str, Any]]:
    """The engine's container events since `since` for the flow run's containers (this module's label)."""
    events = pool.client.events(
        since=since,
        until=datetime.now(UTC),
        decode=True,
        filters={"type": "container", "label": [f"{TEST_LABEL}={pool.label}", f"{FLOW_RUN_LABEL}={flow_run_id}"]},
    )
    return [event for event in events if event.get("Type") == "container"]


def credentials_in(environment: list[str]) -> dict[str, str]:
    pairs = dict(variable.split("=", 1) for variable in environment)
    return {name: value for name, value in pairs.items() if any(word in name for word in CREDENTIAL_WORDS)}


def test_batch_task_runs_in_a_container_of_the_worker_image_then_it_is_removed(
    docker_pool: DockerPool, coffee_png: bytes, tmp_path: Path
) -> None:
    owner, name = publish_tiny_sam(docker_pool, tmp_path, execution=None)
    upload = owner.upload("coffee.png", coffee_png)
    since = datetime.now(UTC)
    task = owner.submit(resource=name, version=1, inputs=[upload["id"]], params=PROMPT, lane="batch")
    done = owner.wait(task["id"], timeout=TASK_SECONDS)
    assert done["status"] == "succeeded", done["error"]
    assert done["lane"] == "batch" and done["flow_run_id"]

    store = docker_pool.store
    manifest = json.loads(store.get_bytes(keys.task_manifest(task["id"])))
    outputs = sorted(store.list_keys(keys.task_outputs_prefix(task["id"])))
    assert outputs == sorted(keys.task_output(task["id"], o["name"]) for o in manifest["outputs"])
    assert {o["name"] for o in done["outputs"]} >= {"coffee/segments.json", "coffee/labels.png"}
    assert manifest["environment"]["torch"].startswith("2.14.1") and manifest["environment"]["device"] == "cpu"

    deadline, actions = time.monotonic() + 60, []
    while time.monotonic() < deadline and "destroy" not in actions:
        events = container_events(docker_pool, since, done["flow_run_id"])
        actions = [event["Action"] for event in events]
        time.sleep(1)
    assert [a for a in actions if a in ("create", "start", "die", "destroy")] == ["create", "start", "die", "destroy"]
    (died,) = [event for event in events if event["Action"] == "die"]
    assert died["Actor"]["Attributes"]["exitCode"] == "0"
    assert died["Actor"]["Attributes"]["image"] == docker_pool.worker_image
    (started,) = docker_pool.inspected(done["flow_run_id"])
    assert started["HostConfig"]["DeviceRequests"] in (None, []), "no GPU asked: none given"
    remaining = docker_pool.client.containers.list(
        all=True, filters={"label": f"{FLOW_RUN_LABEL}={done['flow_run_id']}"}
    )
    assert remaining == [], "auto_remove: the container is gone once its run ends"


def test_gpu_version_asks_the_engine_for_the_gpu_and_only_the_tasks_credentials(
    docker_pool: DockerPool, coffee_png: bytes, tmp_path: Path
) -> None:
    execution = {"gpu": {"count": 1}, "cpu": 1, "memory_gb": 2}
    owner, name = publish_tiny_sam(docker_pool, tmp_path, execution=execution)
    upload = owner.upload("coffee.png", coffee_png)
    task = owner.submit(resource=name, version=1, inputs=[upload["id"]], params=PROMPT, lane="batch")
    done = owner.wait(task["id"], timeout=TASK_SECONDS)
    assert done["status"] == "failed"
    assert "nvidia" in done["error"], done["error"]  # the engine's own words: no NVIDIA runtime on this host

    (container,) = docker_pool.inspected(done["flow_run_id"])
    host = container["HostConfig"]
    requests = [
        {"Driver": r["Driver"], "Count": r["Count"], "Capabilities": r["Capabilities"]} for r in host["DeviceRequests"]
    ]
    assert requests == [{"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu"]]}]
    assert (host["NanoCpus"], host["Memory"]) == (1_000_000_000, 1908 * 1024 * 1024)
    assert host["AutoRemove"] is True and host["NetworkMode"] == "host"
    assert container["Config"]["Image"] == docker_pool.worker_image
    assert container["Config"]["User"] == "commons:commons"
    gone = docker_pool.client.containers.list(all=True, filters={"label": f"{FLOW_RUN_LABEL}={done['flow_run_id']}"})
    assert gone == [], "a container that could not start is removed too (auto_remove), nothing is left behind"

    settings = docker_pool.stack.settings
    environment = container["Config"]["Env"]
    assert credentials_in(environment) == {
        "COMMONS_DATABASE_URL": settings.resolved_database_url,
        "COMMONS_S3_ACCESS_KEY": settings.s3_access_key,
        "COMMONS_S3_SECRET_KEY": settings.s3_secret_key,
    }, "the run writes its rows and outputs and signs no token: no COMMONS_SECRET_KEY, no Prefect database"
    assert not any(settings.secret_key in variable for variable in environment)
    assert "COMMONS_ENVIRONMENT=production" in environment
    assert not any(variable.startswith(("PYTHONPATH=", "VIRTUAL_ENV=", "AWS_")) for variable in environment)
