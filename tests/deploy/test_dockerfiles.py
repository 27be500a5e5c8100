"""deploy/Dockerfile.api and Dockerfile.worker: parsed (dockerfile-parse), pinned, non-root, and buildable
from what the .dockerignore'd context holds. tests/docker builds and runs them on a real engine."""

from __future__ import annotations

import fnmatch
import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
from dockerfile_parse import DockerfileParser

from tests.deploy.conftest import DEPLOY, ROOT

DOCKERFILES = ("Dockerfile.api", "Dockerfile.worker")


def instructions(name: str) -> list[dict[str, Any]]:
    with (DEPLOY / name).open("rb") as handle:
        parser = DockerfileParser(fileobj=handle)
        return [item for item in parser.structure if item["instruction"] != "COMMENT"]


def values(name: str, instruction: str) -> list[str]:
    return [str(item["value"]) for item in instructions(name) if item["instruction"] == instruction]


def pyproject_pins(*, extra: str | None = None) -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = project["optional-dependencies"][extra] if extra else project["dependencies"]
    pins = {}
    for requirement in requirements:
        name, _, version = requirement.partition("==")
        pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def dockerignore_excludes(path: str) -> bool:
    """Whether .dockerignore keeps `path` (relative to the root) out of the build context (last match wins)."""
    excluded = False
    for line in (ROOT / ".dockerignore").read_text().splitlines():
        pattern = line.strip()
        if not pattern or pattern.startswith("#"):
            continue
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = Path(path).parts
        prefixes = ["/".join(parts[: index + 1]) for index in range(len(parts))]
        names = [*prefixes, *[part for part in parts if pattern.startswith("**/")]]
        if any(fnmatch.fnmatch(candidate, pattern.removeprefix("**/")) for candidate in names):
            excluded = not negate
    return excluded


@pytest.mark.parametrize("name", DOCKERFILES)
def test_base_image_is_a_build_argument_defaulting_to_pinned_python_3_11(name: str) -> None:
    steps = instructions(name)
    assert [step["instruction"] for step in steps[:2]] == ["ARG", "FROM"], "ARG BASE_IMAGE=… must come before FROM"
    argument, _, default = str(steps[0]["value"]).partition("=")
    assert argument == "BASE_IMAGE"
    assert re.fullmatch(r"python:3\.11\.\d+-slim-[a-z]+", default), default
    assert values(name, "FROM") == ["${BASE_IMAGE}"]
    assert not (DEPLOY / name).read_text().startswith("# syntax="), "a syntax line makes BuildKit pull a frontend"


def test_both_images_share_their_first_layers() -> None:
    """Up to the torch install the two Dockerfiles are the same but for TORCH_VARIANT's default, so BuildKit
    builds those layers once when both images are built with the same TORCH_VARIANT (deploy/build-images.sh)."""

    def prefix(name: str) -> list[tuple[str, str]]:
        steps = instructions(name)
        end = next(i for i, s in enumerate(steps) if s["instruction"] == "RUN" and "torch==" in s["value"])
        return [(s["instruction"], str(s["value"])) for s in steps[: end + 1]]

    api, worker = prefix("Dockerfile.api"), prefix("Dockerfile.worker")
    assert ("ARG", "TORCH_VARIANT=cpu") in api, "the API runs no model: PyTorch's CPU build by default"
    assert ("ARG", "TORCH_VARIANT=cuda") in worker
    assert [s if s != ("ARG", "TORCH_VARIANT=cpu") else ("ARG", "TORCH_VARIANT=cuda") for s in api] == worker
    torch_step = worker[-1][1]
    assert 'cuda) index="${TORCH_INDEX_URL}"' in torch_step and 'cpu) index="${TORCH_CPU_INDEX_URL}"' in torch_step
    assert "exit 2" in torch_step, "any other TORCH_VARIANT stops the build"
    assert {("ARG", "PIP_FIND_LINKS"), ("ARG", "PIP_NO_INDEX")} <= set(worker), "a wheelhouse can replace PyPI"


@pytest.mark.parametrize("name", DOCKERFILES)
def test_runs_as_a_non_root_user(name: str) -> None:
    steps = instructions(name)
    users = [step for step in steps if step["instruction"] == "USER"]
    assert users, f"{name} never leaves root"
    last = users[-1]
    user = str(last["value"]).split(":")[0]
    assert user not in ("root", "0"), user
    assert any("--uid 10001 --gid commons" in value and user in value for value in values(name, "RUN"))
    after = [step["instruction"] for step in steps if step["startline"] > last["startline"]]
    assert "RUN" not in after and "USER" not in after


@pytest.mark.parametrize("name", DOCKERFILES)
def test_has_a_healthcheck_and_an_exec_form_entrypoint(name: str) -> None:
    (healthcheck,) = values(name, "HEALTHCHECK")
    assert "CMD" in healthcheck
    assert '"commons-healthcheck"' in healthcheck
    (entrypoint,) = values(name, "ENTRYPOINT")
    command = json.loads(entrypoint)
    assert isinstance(command, list)
    assert len(command) == 1


@pytest.mark.parametrize("name", DOCKERFILES)
def test_copies_only_what_the_build_context_holds(name: str) -> None:
    packages = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    copied: list[str] = []
    for value in values(name, "COPY"):
        words = [word for word in value.split() if not word.startswith("--")]
        copied.extend(words[:-1])
    for source in copied:
        assert (ROOT / source).exists(), f"{name} copies {source}, which is not in the repository"
        assert not dockerignore_excludes(source), f".dockerignore keeps {source} out of {name}'s context"
    assert {f"{package.rstrip('*')}" for package in packages["include"]} <= set(copied)
    assert "pyproject.toml" in copied


def test_dockerignore_keeps_local_state_out() -> None:
    for path in (".venv", ".git", ".data", "deploy/.env", "api/__pycache__", "model_commons.egg-info", "tests"):
        assert dockerignore_excludes(path), path
    assert not dockerignore_excludes("deploy/.env.example")


@pytest.mark.parametrize("name", DOCKERFILES)
def test_installs_the_project_with_pyprojects_torch(name: str) -> None:
    runs = " ".join(values(name, "RUN"))
    pins = pyproject_pins()
    for package in ("torch", "torchvision"):
        found = re.findall(rf"\b{package}==([\w.+]+)", runs)
        assert found == [pins[package]], f"{name}: {package} {found} vs pyproject {pins[package]}"
    assert re.search(r"pip install (--[\w-]+ )*\.(\s|$)", runs), f"{name} does not install the project"
    assert "['project']['dependencies']" in runs, f"{name} does not install pyproject's dependencies"


def test_worker_installs_the_worker_libraries_at_pyprojects_pins() -> None:
    runs = " ".join(values("Dockerfile.worker", "RUN"))
    dev = pyproject_pins(extra="dev")
    for package in ("prefect-docker", "prefect-kubernetes"):
        assert f"{package}=={dev[package]}" in runs


def test_worker_keeps_the_source_where_prefect_yaml_pulls_it() -> None:
    import yaml

    config = yaml.safe_load((DEPLOY / "prefect.yaml").read_text())
    (step,) = config["pull"]
    directory = step["prefect.deployments.steps.set_working_directory"]["directory"]
    workdirs = values("Dockerfile.worker", "WORKDIR")
    assert directory in workdirs
    steps = instructions("Dockerfile.worker")
    start = next(s["startline"] for s in steps if s["instruction"] == "WORKDIR" and s["value"] == directory)
    copied = [s["value"].split()[-1] for s in steps if s["instruction"] == "COPY" and s["startline"] > start]
    assert "./flows" in copied


@pytest.mark.parametrize(
    ("script", "order"),
    [
        ("api-entrypoint.sh", ["commons migrate", "exec commons serve --host 0.0.0.0 --port 8000"]),
        ("worker-entrypoint.sh", ["exec prefect worker start", "--with-healthcheck", "exec python -m flows.warm_lane"]),
        ("postgres/init-prefect-database.sh", ["CREATE ROLE prefect", "CREATE DATABASE prefect"]),
    ],
)
def test_entrypoint_scripts_are_valid_shell_in_order(script: str, order: list[str]) -> None:
    path = DEPLOY / script
    assert path.stat().st_mode & 0o111, f"{script} is not executable"
    shell = shutil.which("sh")
    assert shell is not None
    checked = subprocess.run([shell, "-n", str(path)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    text = path.read_text()
    positions = [text.index(fragment) for fragment in order]
    assert positions == sorted(positions), f"{script}: {order} out of order"


def test_images_name_the_scripts_they_copy() -> None:
    api_copies = " ".join(values("Dockerfile.api", "COPY"))
    worker_copies = " ".join(values("Dockerfile.worker", "COPY"))
    assert "deploy/api-entrypoint.sh /usr/local/bin/commons-api-entrypoint" in api_copies
    assert json.loads(values("Dockerfile.api", "ENTRYPOINT")[0]) == ["commons-api-entrypoint"]
    assert "deploy/worker-entrypoint.sh /usr/local/bin/commons-worker-entrypoint" in worker_copies
    assert json.loads(values("Dockerfile.worker", "ENTRYPOINT")[0]) == ["commons-worker-entrypoint"]
    for copies in (api_copies, worker_copies):
        assert "deploy/healthcheck.py /usr/local/bin/commons-healthcheck" in copies
    assert (DEPLOY / "healthcheck.py").read_text().startswith("#!/usr/bin/env python3\n")
