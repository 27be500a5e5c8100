"""The API and worker images, built here by deploy/build-images.sh on a base made from Debian's packages: what
they run as, what they carry, and that a second build with nothing changed is skipped."""

from __future__ import annotations

import os
import subprocess
import time
import uuid
from collections.abc import Iterator

import docker
import pytest

from tests.docker.conftest import ROOT, TEST_LABEL, Images, build_command, remove_labelled_containers

pytestmark = [pytest.mark.docker, pytest.mark.timeout(3600)]  # the first build on a bare machine takes minutes


@pytest.fixture(scope="module")
def label(docker_engine: docker.DockerClient) -> Iterator[str]:
    value = f"images-{uuid.uuid4().hex[:12]}"
    try:
        yield value
    finally:
        remove_labelled_containers(docker_engine, value)


def run(client: docker.DockerClient, image: str, command: list[str], label: str) -> str:
    """`command` in a new container of `image` through its entrypoint; its output (the container is removed)."""
    output = client.containers.run(image, command, remove=True, labels={TEST_LABEL: label}, network_mode="none")
    return bytes(output).decode()


@pytest.mark.parametrize(
    ("name", "entrypoint", "health_url"),
    [
        ("api", "commons-api-entrypoint", "http://127.0.0.1:8000/api/v1/health"),
        ("worker", "commons-worker-entrypoint", "http://127.0.0.1:8080/health"),
    ],
)
def test_image_runs_as_commons_with_its_healthcheck_and_entrypoint(
    images: Images, docker_engine: docker.DockerClient, name: str, entrypoint: str, health_url: str
) -> None:
    config = docker_engine.images.get(getattr(images, name)).attrs["Config"]
    assert config["User"] == "commons:commons"
    assert config["Entrypoint"] == [entrypoint]
    assert config["Healthcheck"]["Test"] == ["CMD", "commons-healthcheck", "http", health_url]
    assert len(config["Labels"]["org.model-commons.source-digest"]) == 16
    assert config["Env"].count("COMMONS_ENVIRONMENT=production") == 1
    assert not any(variable.startswith(("PIP_FIND_LINKS=", "PIP_NO_INDEX=")) for variable in config["Env"]), (
        "the build's wheelhouse must not stay in the image"
    )


def test_worker_image_imports_torch_and_the_flow_as_uid_10001(
    images: Images, docker_engine: docker.DockerClient, label: str
) -> None:
    script = (
        "import os, torch, torchvision, flows.run_task, flows.warm_lane, prefect_docker, prefect_kubernetes;"
        "x = torch.nn.functional.conv2d(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 3, 3));"
        "print(os.getuid(), os.getcwd(), torch.__version__, torchvision.__version__, torch.cuda.is_available(),"
        " float(x.sum()))"
    )
    uid, cwd, torch_version, vision_version, cuda, total = run(
        docker_engine, images.worker, ["python", "-c", script], label
    ).split()
    assert (uid, cwd) == ("10001", "/var/lib/commons")
    assert torch_version.split("+")[0] == "2.14.1" and vision_version.split("+")[0] == "0.29.1"
    assert cuda == "False", "no GPU on this machine (on a GPU host with the NVIDIA runtime this is True)"
    assert float(total) == 36.0


def test_api_image_runs_commands_given_to_its_entrypoint(
    images: Images, docker_engine: docker.DockerClient, label: str
) -> None:
    assert "serve" in run(docker_engine, images.api, ["commons", "--help"], label)
    with pytest.raises(docker.errors.ContainerError) as unhealthy:  # nothing listens: the check says so
        run(docker_engine, images.api, ["commons-healthcheck", "http", "http://127.0.0.1:9/"], label)
    assert unhealthy.value.exit_status == 1


def test_worker_batch_role_needs_a_pool(images: Images, docker_engine: docker.DockerClient, label: str) -> None:
    with pytest.raises(docker.errors.ContainerError) as refused:
        run(docker_engine, images.worker, ["batch"], label)
    assert "set COMMONS_WORK_POOL" in (refused.value.stderr or b"").decode()


def test_a_second_build_with_nothing_changed_takes_seconds(images: Images) -> None:
    """The images fixture has just built (or found) the images of these sources: building again finds both."""
    if os.environ.get("COMMONS_DOCKER_PREBUILT"):
        pytest.skip("COMMONS_DOCKER_PREBUILT: the images were not built from this tree")
    started = time.monotonic()
    again = subprocess.run(
        build_command(),
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
        check=False,
    )
    took = time.monotonic() - started
    assert again.returncode == 0, again.stderr
    assert again.stdout.count("is up to date") >= 2, again.stdout  # both images (and a local base)
    assert "building" not in again.stdout
    assert took < 30, f"a build with nothing changed took {took:.1f} s"
