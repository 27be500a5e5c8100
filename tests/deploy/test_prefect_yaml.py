"""deploy/prefect.yaml: Prefect's own model accepts it, its entrypoints are the real flow, and its job
variables are ones the work pools' base job templates (deploy/work-pools/*.json) declare."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from prefect import Flow
from prefect.cli.deploy._models import PrefectYamlModel  # the model `prefect deploy` validates with
from prefect.utilities.importtools import import_object

from tests.deploy.conftest import DEPLOY, ROOT


@pytest.fixture(scope="module")
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "prefect.yaml").read_text())
    return loaded


def test_prefect_accepts_the_file(config: dict[str, Any]) -> None:
    model = PrefectYamlModel.model_validate(config)
    assert [deployment.name for deployment in model.deployments] == ["docker", "kubernetes"]
    assert model.prefect_version == importlib.import_module("prefect").__version__ == "3.8.8"


def test_entrypoints_resolve_to_the_task_flow(config: dict[str, Any]) -> None:
    from flows.run_task import run_task

    for deployment in config["deployments"]:
        path, _, name = deployment["entrypoint"].partition(":")
        file = ROOT / path
        assert file.is_file(), path
        module = ".".join(Path(path).with_suffix("").parts)
        flow = getattr(importlib.import_module(module), name)
        assert isinstance(flow, Flow)
        assert flow is run_task
        assert flow.name == "run-task"


def test_pull_step_is_a_real_prefect_step(config: dict[str, Any]) -> None:
    (step,) = config["pull"]
    (function,) = step
    assert callable(import_object(function))


def test_each_deployment_runs_on_a_declared_gpu_pool(config: dict[str, Any]) -> None:
    pools = config["definitions"]["work_pools"]
    assert {pool["type"] for pool in pools.values()} == {"docker", "kubernetes"}
    for deployment in config["deployments"]:
        pool = pools[deployment["work_pool"]["name"]]
        assert deployment["name"] == pool["type"]
        assert Path(pool["base_job_template"]).parts[:2] == ("deploy", "work-pools")
        variables = deployment["work_pool"]["job_variables"]
        if pool["type"] == "docker":
            (request,) = variables["container_create_kwargs"]["device_requests"]
            assert request == {"driver": "nvidia", "count": 1, "capabilities": [["gpu"]]}
        else:
            assert variables["gpu_limit"] == 1
            assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in variables["tolerations"]


def test_job_variables_are_declared_by_the_pool_templates(config: dict[str, Any]) -> None:
    pools = config["definitions"]["work_pools"]
    for deployment in config["deployments"]:
        template_path = ROOT / pools[deployment["work_pool"]["name"]]["base_job_template"]
        template = json.loads(template_path.read_text())
        schema = template["variables"]
        variables = deployment["work_pool"]["job_variables"]
        undeclared = sorted(set(variables) - set(schema["properties"]))
        assert undeclared == [], f"{deployment['name']}: {undeclared} not in {template_path.name}"
        jsonschema.Draft202012Validator(schema).validate(variables)


def test_runs_get_the_production_settings(config: dict[str, Any]) -> None:
    required = {"COMMONS_ENVIRONMENT", "COMMONS_DATABASE_URL", "COMMONS_S3_ENDPOINT", "COMMONS_S3_SECRET_KEY"}
    for deployment in config["deployments"]:
        env = deployment["work_pool"]["job_variables"]["env"]
        assert required <= set(env), deployment["name"]
        assert "COMMONS_SECRET_KEY" not in env, f"{deployment['name']}: a task container never holds the JWT key"
        assert env["COMMONS_ENVIRONMENT"] == "production"
        secrets = [key for key in env if "SECRET" in key or "DATABASE_URL" in key]
        assert all(env[key].startswith("{{ $") for key in secrets), "a secret is written into prefect.yaml"


def test_docker_runs_join_the_compose_network(config: dict[str, Any]) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    (docker,) = [d for d in config["deployments"] if d["name"] == "docker"]
    assert docker["work_pool"]["job_variables"]["networks"] == [compose["networks"]["commons"]["name"]]
