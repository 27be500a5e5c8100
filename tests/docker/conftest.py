"""Fixtures for tests that use a real Docker engine: the engine itself and the project's images, built here.

- `docker_engine`: Debian's `docker.io` is installed with apt-get when `dockerd` is missing (as tests/ui installs
  Chromium), and `dockerd` is started when no engine answers. The engine is a machine service, like the
  PostgreSQL server: it is left running, and keeps its images and build cache in /var/lib/docker between runs.
  It is started with `--iptables=false`: it adds no firewall rules to the host (containers here use the host's
  network or the engine's own bridges, with no NAT to the outside).
- `images`: deploy/build-images.sh builds the API and worker images on a base made from Debian's packages
  (deploy/base/make-debian-python.sh: no image registry is reachable here), installing every Python package from
  a wheelhouse filled once on this host; an image already built from the same sources is not built again.

These tests need root (apt-get, dockerd). Where the engine cannot start they fail, with the reason; set
COMMONS_SKIP_DOCKER_TESTS=1 to skip them on purpose. Select them with `-m docker`.
Knobs: COMMONS_DOCKER_BASE (default `local`, or an image such as python:3.11.14-slim-bookworm),
COMMONS_DOCKER_TORCH (default `cuda`: PyTorch's CPU index is not reachable here; `cpu` where it is),
COMMONS_WHEELHOUSE (default /var/cache/model-commons/wheelhouse; empty: pip uses its index inside the build),
COMMONS_DOCKER_PREBUILT=1 (use the images of the project's tag as they are: no build).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

ROOT = Path(__file__).resolve().parents[2]
OPT_OUT = "COMMONS_SKIP_DOCKER_TESTS"
DOCKERD_LOG = Path("/var/log/model-commons-dockerd.log")
ENGINE_START_SECONDS = 60
BUILD_TIMEOUT_SECONDS = 3600  # a first build on a bare machine: the base (~2 min), the wheelhouse, both images
TEST_LABEL = "org.model-commons.test"  # every container a test makes carries it, for the clean-up


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "docker: needs a Docker engine (root; tests/docker/conftest.py starts it)")


@dataclass(frozen=True)
class Images:
    api: str
    worker: str
    build_log: Path


def _apt_install(*packages: str) -> None:
    apt = shutil.which("apt-get")
    if apt is None or os.geteuid() != 0:
        raise RuntimeError(
            f"{', '.join(packages)} missing and this is not root with apt-get: install Debian's {' '.join(packages)} "
            f"(or set {OPT_OUT}=1 to skip the Docker tests)"
        )
    install = [apt, "install", "-y", "-q", "--no-install-recommends", *packages]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(install, capture_output=True, env=env, timeout=900, check=False).returncode != 0:
        subprocess.run([apt, "update", "-q"], check=True, capture_output=True, timeout=600)  # stale lists
        subprocess.run(install, check=True, capture_output=True, env=env, timeout=900)


def engine_answers() -> bool:
    try:
        client = docker.from_env(timeout=5)
        try:
            return bool(client.ping())
        finally:
            client.close()
    except docker.errors.DockerException:
        return False


def start_engine() -> None:
    """Install and start dockerd unless an engine already answers on the default socket."""
    if engine_answers():
        return
    if shutil.which("dockerd") is None:
        _apt_install("docker.io")
    if os.geteuid() != 0:
        raise RuntimeError(f"no Docker engine answers and only root can start dockerd (or set {OPT_OUT}=1)")
    dockerd = shutil.which("dockerd")
    assert dockerd is not None
    with DOCKERD_LOG.open("ab") as log:
        subprocess.Popen(  # the engine outlives the session (see the docstring)
            [dockerd, "--iptables=false", "--exec-opt", "native.cgroupdriver=cgroupfs"],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + ENGINE_START_SECONDS
    while time.monotonic() < deadline:
        if engine_answers():
            return
        time.sleep(0.5)
    tail = DOCKERD_LOG.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"dockerd did not answer within {ENGINE_START_SECONDS} s; the end of {DOCKERD_LOG}:\n{tail}")


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[docker.DockerClient]:
    if os.environ.get(OPT_OUT):
        pytest.skip(f"{OPT_OUT} is set: the Docker tests are skipped on purpose")
    start_engine()
    client = docker.from_env(timeout=120)
    try:
        yield client
    finally:
        client.close()


def project_version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def build_command() -> list[str]:
    """deploy/build-images.sh with this machine's choices (the module docstring's knobs)."""
    command = [str(ROOT / "deploy" / "build-images.sh"), "--base", os.environ.get("COMMONS_DOCKER_BASE", "local")]
    command += ["--torch", os.environ.get("COMMONS_DOCKER_TORCH", "cuda")]
    wheelhouse = os.environ.get("COMMONS_WHEELHOUSE", "/var/cache/model-commons/wheelhouse")
    return command + (["--wheelhouse", wheelhouse] if wheelhouse else [])


@pytest.fixture(scope="session")
def images(docker_engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Images:
    """The API and worker images of the current sources (built now unless already built from them); with
    COMMONS_DOCKER_PREBUILT=1, the images of that tag as they are (built by another step or from another tree)."""
    tag = project_version()
    found = Images(api=f"model-commons-api:{tag}", worker=f"model-commons-worker:{tag}", build_log=Path("/dev/null"))
    if os.environ.get("COMMONS_DOCKER_PREBUILT"):
        for image in (found.api, found.worker):
            docker_engine.images.get(image)  # ImageNotFound names it
        return found
    if os.environ.get("COMMONS_DOCKER_BASE", "local") == "local" and shutil.which("debootstrap") is None:
        _apt_install("debootstrap")
    command = build_command()
    log_path = tmp_path_factory.mktemp("images") / "build-images.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        built = subprocess.run(
            command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, timeout=BUILD_TIMEOUT_SECONDS, check=False
        )
    text = log_path.read_text(errors="replace")
    if built.returncode != 0:
        raise RuntimeError(
            f"deploy/build-images.sh failed ({built.returncode}); the end of {log_path}:\n{text[-6000:]}"
        )
    summary = [line for line in text.splitlines() if line.startswith(("model-commons-", "built ", "base "))]
    print(f"\nimages ready in {time.monotonic() - started:.0f} s:\n" + "\n".join(summary))
    return Images(api=found.api, worker=found.worker, build_log=log_path)


def remove_labelled_containers(client: docker.DockerClient, label: str) -> None:
    """Remove every container (running or not) that carries TEST_LABEL=label."""
    for container in client.containers.list(all=True, filters={"label": f"{TEST_LABEL}={label}"}):
        with contextlib.suppress(docker.errors.NotFound):  # removed by the engine meanwhile (auto_remove)
            container.remove(force=True)
