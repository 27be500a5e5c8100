"""Fixtures for deploy/: the real Compose parser and the files under deploy/.

The set-up installs Debian's `docker-compose` package when the command is missing (apt-get, as the CI
user may), like tests/ui/conftest.py does for chromium. `docker-compose config` parses, validates and
interpolates a compose file without a Docker engine; none runs on the development machines, so nothing
here builds an image or starts a container.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "compose.yaml"
ENV_EXAMPLE = DEPLOY / ".env.example"
CLEARED_PREFIXES = ("COMMONS_", "POSTGRES_", "PREFECT_", "COMPOSE_", "DOCKER_", "MINIO_")


def ensure_docker_compose() -> str:
    found = shutil.which("docker-compose")
    if found is None:
        apt = shutil.which("apt-get")
        if apt is None:
            raise RuntimeError("docker-compose is missing and apt-get is not available to install Debian's package")
        install = [apt, "install", "-y", "-q", "--no-install-recommends", "docker-compose"]
        if subprocess.run(install, capture_output=True, timeout=600, check=False).returncode != 0:
            subprocess.run([apt, "update", "-q"], check=True, capture_output=True, timeout=600)  # stale lists
            subprocess.run(install, check=True, capture_output=True, timeout=600)
        found = shutil.which("docker-compose")
        if found is None:
            raise RuntimeError("apt-get installed docker-compose but the command is still not on PATH")
    return found


def clean_environment() -> dict[str, str]:
    """This process's environment without anything that would feed the compose file's ${VARS}."""
    return {name: value for name, value in os.environ.items() if not name.startswith(CLEARED_PREFIXES)}


def run_compose(env_file: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ensure_docker_compose(), "--file", str(COMPOSE_FILE), "--env-file", str(env_file), *arguments],
        capture_output=True,
        text=True,
        env=clean_environment(),
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name.strip()] = value.strip()
    return values


@pytest.fixture(scope="session")
def compose_raw() -> dict[str, Any]:
    """compose.yaml as written (before interpolation)."""
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="session")
def resolved_env_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """.env.example with every placeholder replaced by a distinct value (as an operator would do)."""
    values = read_env_file(ENV_EXAMPLE)
    lines = [
        f"{name}={f'{name.lower()}-0123456789abcdef' if value == 'change-me' else value}"
        for name, value in values.items()
    ]
    path = tmp_path_factory.mktemp("compose") / "deploy.env"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture(scope="session")
def compose_config(resolved_env_file: Path) -> dict[str, Any]:
    """The configuration `docker-compose config` resolves from compose.yaml and the filled-in .env."""
    result = run_compose(resolved_env_file, "config")
    assert result.returncode == 0, result.stderr
    loaded: dict[str, Any] = yaml.safe_load(result.stdout)
    return loaded
