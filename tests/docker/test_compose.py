"""deploy/compose.yaml runs here: the whole stack in containers, with deploy/compose.local.yaml for what cannot be
pulled (PostgreSQL and the S3 service are images built here) and deploy/local/compose-local.py for what Compose v1
cannot override (no GPU reservations, ports on loopback only).

One journey: `up`, the API reports healthy, an administrator made with `commons user create` inside the api
container publishes a tiny random-weights SAM over the API, a batch task runs in the gpu-worker container and
succeeds with its outputs in the store; `down` (volumes kept) and `up` again: the user, the resource and the
task's outputs are all still there. At the end `down -v` removes every container, network and volume of the
project, however the test ended.
"""

from __future__ import annotations

import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import docker
import httpx
import pytest

from launcher.client import CommonsClient
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import free_port_block
from tests.deploy.conftest import ensure_docker_compose
from tests.docker.conftest import ROOT, Images
from tests.sdk_support import SAM_PARAMS, write_photo

pytestmark = pytest.mark.docker

PROJECT = "commons-test"
RENDER = ROOT / "deploy" / "local" / "compose-local.py"
BUILD_LOCAL = ROOT / "deploy" / "local" / "build-local-images.sh"
PUBLIC_HOST = "s3.commons-test.internal"
ADMIN, PASSWORD = "compose-admin", "correct horse battery staple"
HEALTH_SECONDS = 180
TASK_SECONDS = 240


@dataclass(frozen=True)
class Stack:
    env_file: Path
    api_url: str
    s3_port: int

    def compose(self, *arguments: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, str(RENDER), "--env-file", str(self.env_file), "-p", PROJECT, *arguments]
        done = subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=timeout, check=False)
        if done.returncode != 0:
            raise AssertionError(f"{' '.join(arguments)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
        return done

    def up(self) -> float:
        """`up -d` until the API answers healthy (every component ok); the seconds it took."""
        started = time.monotonic()
        self.compose("up", "-d", "--no-build")
        deadline = started + HEALTH_SECONDS
        body: Any = None
        while time.monotonic() < deadline:
            try:
                body = httpx.get(f"{self.api_url}/api/v1/health", timeout=5).json()
                if body.get("status") == "ok":
                    return time.monotonic() - started
            except (httpx.HTTPError, ValueError):
                pass
            time.sleep(1)
        raise AssertionError(f"the API was not healthy within {HEALTH_SECONDS} s: {body}\n{self.logs()}")

    def logs(self) -> str:
        return self.compose("logs", "--no-color", "--tail", "40").stdout[-8000:]

    def download(self, url: str) -> bytes:
        """A presigned output URL (http://PUBLIC_HOST:9000/...) fetched through the S3 port published on
        loopback; the Host header stays the signed one."""
        signed = httpx.URL(url)
        local = signed.copy_with(host="127.0.0.1", port=self.s3_port)
        response = httpx.get(local, headers={"Host": f"{signed.host}:{signed.port}"}, timeout=30)
        response.raise_for_status()
        return response.content


def write_env_file(path: Path, api_port: int, s3_port: int) -> Path:
    values = {
        "COMMONS_PUBLIC_HOST": PUBLIC_HOST,
        "COMMONS_SECRET_KEY": secrets.token_hex(32),
        "POSTGRES_PASSWORD": secrets.token_hex(16),
        "PREFECT_POSTGRES_PASSWORD": secrets.token_hex(16),
        "COMMONS_S3_ACCESS_KEY": "commons",
        "COMMONS_S3_SECRET_KEY": secrets.token_hex(24),
        "COMMONS_API_PORT": str(api_port),
        "COMMONS_LOCAL_S3_PORT": str(s3_port),
    }
    path.write_text("".join(f"{name}={value}\n" for name, value in values.items()))
    path.chmod(0o600)
    return path


@pytest.fixture
def stack(images: Images, docker_engine: docker.DockerClient, tmp_path: Path) -> Iterator[Stack]:
    ensure_docker_compose()  # Debian's Compose 1.29.2, installed when missing
    started = time.monotonic()
    built = subprocess.run(
        [str(BUILD_LOCAL), "--base", "local", "--wheelhouse", "/var/cache/model-commons/wheelhouse"],
        capture_output=True, text=True, timeout=1800, check=False,
    )  # fmt: skip
    if built.returncode != 0:
        raise RuntimeError(f"build-local-images.sh failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}")
    print(f"\nlocal images ready in {time.monotonic() - started:.0f} s:", *built.stdout.splitlines()[-2:], sep="\n")
    api_port = free_port_block(2)
    env_file = write_env_file(tmp_path / "env", api_port, api_port + 1)
    found = Stack(env_file, f"http://127.0.0.1:{api_port}", api_port + 1)
    found.compose("down", "--volumes", "--remove-orphans")  # what an interrupted run left
    try:
        yield found
    finally:
        found.compose("down", "--volumes", "--remove-orphans")
        left = docker_engine.containers.list(all=True, filters={"label": f"com.docker.compose.project={PROJECT}"})
        left_volumes = docker_engine.volumes.list(filters={"label": f"com.docker.compose.project={PROJECT}"})
        assert not left and not left_volumes, f"left behind: {left} {left_volumes}"


def publish_and_run(client: CommonsClient, tmp_path: Path) -> tuple[str, dict[str, Any]]:
    """A tiny SAM (random weights) published as version 1, and a batch task on it run to its end: (ref, task)."""
    weights = tmp_path / str(TINY_CONFIG["checkpoint"])
    save_random_weights(parse_sam_config(TINY_CONFIG), weights, seed=0)
    made = client.create_resource(name="tiny-sam", kind="segmenter.sam", title="Tiny SAM", visibility="private")
    ref = str(made["ref"])
    client.upload_version(ref, files=[weights], config=TINY_CONFIG)
    photo = client.upload("photo.png", write_photo(tmp_path / "photo.png").read_bytes())
    task = client.submit(resource=ref, version=1, inputs=[photo["id"]], params=SAM_PARAMS, lane="batch")
    return ref, client.wait(str(task["id"]), timeout=TASK_SECONDS, poll=1)


def test_compose_stack_runs_a_task_and_keeps_its_state_across_down_and_up(stack: Stack, tmp_path: Path) -> None:
    up_seconds = stack.up()
    made = stack.compose("exec", "-T", "api", "commons", "user", "create", ADMIN, "--admin", "--password", PASSWORD)
    assert f"created admin user {ADMIN}" in made.stdout
    client = CommonsClient(stack.api_url)
    client.sign_in(ADMIN, PASSWORD)
    started = time.monotonic()
    ref, task = publish_and_run(client, tmp_path)
    task_seconds = time.monotonic() - started
    assert task["status"] == "succeeded", f"{task}\n{stack.logs()}"
    outputs = {output["name"]: output for output in task["outputs"]}
    assert outputs, task
    name, output = next(iter(sorted(outputs.items())))
    assert len(stack.download(output["url"])) == output["size"]
    client.close()

    stack.compose("down")  # volumes kept
    again_seconds = stack.up()
    client = CommonsClient(stack.api_url)
    client.sign_in(ADMIN, PASSWORD)  # the user is still there
    kept = client.task(str(task["id"]))
    assert kept["status"] == "succeeded"
    assert {o["name"]: (o["size"], o["sha256"]) for o in kept["outputs"]} == {
        n: (o["size"], o["sha256"]) for n, o in outputs.items()
    }
    assert len(stack.download(next(o for o in kept["outputs"] if o["name"] == name)["url"])) == output["size"]
    assert client.http.get(f"/resources/{ref}/versions/1").status_code == 200
    client.close()
    print(f"\ncompose: up {up_seconds:.0f} s, first task {task_seconds:.0f} s, up again {again_seconds:.0f} s")
