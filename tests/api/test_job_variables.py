"""A version's execution spec becomes its flow runs' job variables on docker and kubernetes work pools.

The variables are read back from a real Prefect server (which validates them against the pool's base job
template) and rendered with the docker and kubernetes workers' own job-configuration classes.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from prefect.client.orchestration import SyncPrefectClient

from commons.settings import Settings
from flows.deployment import ensure_deployment
from flows.work_pools import base_job_template
from registry.schemas import ExecutionSpec
from services.dispatch import Dispatcher
from services.job_variables import job_variables, over_deployment
from tests.api.conftest import Published
from tests.conftest import RunningStack

ROOT = Path(__file__).resolve().parents[2]
WORKER_IMAGE = "model-commons/worker:0.1.0"  # on the default allow-list (COMMONS_ALLOWED_IMAGES)
GPU_SPEC = ExecutionSpec.model_validate(
    {"image": WORKER_IMAGE, "gpu": {"count": 2, "min_memory_gb": 24}, "cpu": 4, "memory_gb": 16}
)
DOCKER_EXPECTED = {
    "image": WORKER_IMAGE,
    "mem_limit": "15259m",
    "container_create_kwargs": {
        "device_requests": [{"driver": "nvidia", "count": 2, "capabilities": [["gpu"]]}],
        "nano_cpus": 4_000_000_000,
    },
}
GPU_AFFINITY = {
    "nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [
                {"matchExpressions": [{"key": "nvidia.com/gpu.memory", "operator": "Gt", "values": ["22888"]}]}
            ]
        }
    }
}
KUBERNETES_EXPECTED = {
    "image": WORKER_IMAGE,
    "gpu_limit": 2,
    "affinity": GPU_AFFINITY,
    "cpu_request": "4000m",
    "memory_request": "15259Mi",
    "memory_limit": "15259Mi",
}


def test_job_variables_per_pool_type() -> None:
    assert job_variables(pool_type="docker", execution=GPU_SPEC) == DOCKER_EXPECTED
    assert job_variables(pool_type="kubernetes", execution=GPU_SPEC) == KUBERNETES_EXPECTED
    assert job_variables(pool_type="process", execution=GPU_SPEC) == {}, "the process pool uses the local device"
    assert job_variables(pool_type="kubernetes", execution=None) == {}
    cpu_only = ExecutionSpec(image="worker:1")
    assert job_variables(pool_type="docker", execution=cpu_only) == {"image": "worker:1"}
    assert job_variables(pool_type="kubernetes", execution=cpu_only) == {"image": "worker:1"}


@pytest.mark.parametrize("pool_type", ["docker", "kubernetes"])
def test_checked_in_pool_templates_are_the_generated_ones(pool_type: str) -> None:
    checked_in = json.loads((ROOT / "deploy" / "work-pools" / f"{pool_type}.json").read_text())
    assert checked_in == base_job_template(pool_type), f"regenerate: python -m flows.work_pools {pool_type}"


def _render(settings: Settings, configuration: Any, template: dict[str, Any], variables: dict[str, Any]) -> Any:
    """The worker's job configuration for these variables (resolving references against our Prefect server)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: settings.resolved_prefect_api_url}):
        return asyncio.run(configuration.from_template_and_values(template, variables))


def _submit(settings: Settings, pool_type: str, execution: ExecutionSpec | None) -> tuple[dict[str, Any], Any]:
    """A deployment on a fresh pool of `pool_type`; a flow run submitted as the API does; (job variables, pool)."""
    suffix = uuid.uuid4().hex[:8]
    pool_settings = settings.model_copy(
        update={"work_pool": f"jobvars-{pool_type}-{suffix}", "deployment_name": f"jobvars-{suffix}"}
    )
    ensure_deployment(pool_settings, pool_type=pool_type)
    dispatcher = Dispatcher(pool_settings)
    try:
        run_id = dispatcher.submit(uuid.uuid4().hex, lane="batch", execution=execution)
    finally:
        dispatcher.close()
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        run = client.read_flow_run(UUID(run_id))
        pool = client.read_work_pool(pool_settings.work_pool)
        client.delete_flow_run(run.id)  # no worker serves these pools; leave nothing scheduled
    return run.job_variables or {}, pool


def test_docker_pool_flow_run_carries_the_gpu_request(shared_services: Settings) -> None:
    from prefect_docker.worker import DockerWorkerJobConfiguration

    variables, pool = _submit(shared_services, "docker", GPU_SPEC)
    assert variables == DOCKER_EXPECTED
    config = _render(shared_services, DockerWorkerJobConfiguration, pool.base_job_template, variables)
    assert config.container_create_kwargs["device_requests"] == [
        {"driver": "nvidia", "count": 2, "capabilities": [["gpu"]]}
    ]
    assert config.image == GPU_SPEC.image and config.mem_limit == "15259m"
    assert_no_jwt_key(variables, config.env)


def assert_no_jwt_key(variables: dict[str, Any], env: Any) -> None:
    """The run's job variables carry the execution spec only; its container environment, as the worker renders
    it from the pool's template, the deployment's variables and these, holds no COMMONS_SECRET_KEY."""
    assert "env" not in variables, "a version's spec never sets a container's environment"
    assert "COMMONS_SECRET_KEY" not in json.dumps(variables)
    assert "COMMONS_SECRET_KEY" not in json.dumps(env, default=str)


def test_kubernetes_pool_flow_run_carries_the_gpu_limit(shared_services: Settings) -> None:
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    variables, pool = _submit(shared_services, "kubernetes", GPU_SPEC)
    assert variables == KUBERNETES_EXPECTED
    config = _render(shared_services, KubernetesWorkerJobConfiguration, pool.base_job_template, variables)
    pod = config.job_manifest["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 2
    assert container["resources"]["requests"]["cpu"] == "4000m"
    assert container["image"] == GPU_SPEC.image
    assert pod["affinity"] == GPU_AFFINITY
    assert_no_jwt_key(variables, container.get("env"))
    assert "nodeSelector" not in pod and "tolerations" not in pod, "unset variables leave no empty keys"

    no_gpu, _ = _submit(shared_services, "kubernetes", None)
    assert no_gpu == {}
    plain = _render(shared_services, KubernetesWorkerJobConfiguration, pool.base_job_template, {})
    limits = plain.job_manifest["spec"]["template"]["spec"]["containers"][0]["resources"].get("limits") or {}
    assert "nvidia.com/gpu" not in limits, "a version without GPUs asks for none"


def test_the_kubernetes_pool_declares_the_gpu_variable(shared_services: Settings) -> None:
    """Prefect validates job variables against the pool's declared variables: a negative GPU count is refused."""
    suffix = uuid.uuid4().hex[:8]
    settings = shared_services.model_copy(
        update={"work_pool": f"jobvars-k8s-{suffix}", "deployment_name": f"jobvars-bad-{suffix}"}
    )
    deployment_id = ensure_deployment(settings, pool_type="kubernetes")
    with SyncPrefectClient(settings.resolved_prefect_api_url) as client:
        with pytest.raises(Exception, match="gpu_limit"):
            client.create_flow_run_from_deployment(
                UUID(deployment_id), parameters={"task_id": "x"}, job_variables={"gpu_limit": -1}
            )
        run = client.create_flow_run_from_deployment(
            UUID(deployment_id), parameters={"task_id": "x"}, job_variables={"gpu_limit": 1}
        )
        assert run.job_variables == {"gpu_limit": 1}
        client.delete_flow_run(run.id)


# Job variables come from Prefect, whatever the registry's backend.
@pytest.mark.parametrize("stack", ["postgresql"], indirect=True)
def test_a_version_declares_its_execution_over_rest(stack: RunningStack, published: Published, tmp_path: Path) -> None:
    provider = published.provider
    from resources.sam.config import parse_sam_config
    from resources.sam.model import TINY_CONFIG, save_random_weights

    weights = tmp_path / TINY_CONFIG["checkpoint"]
    save_random_weights(parse_sam_config(TINY_CONFIG), weights, seed=1)
    execution: dict[str, Any] = {"image": WORKER_IMAGE, "gpu": {"count": 1, "min_memory_gb": 8}}
    version = provider.upload_version(published.name, files=[weights], config=TINY_CONFIG, execution=execution)
    assert version["execution"] == {
        **execution,
        "gpu": {**execution["gpu"], "shareable": False},
        "cpu": None,
        "memory_gb": None,
    }
    assert (
        provider.http.get(f"/resources/{published.name}/versions/{version['version']}").json()["execution"]["gpu"][
            "count"
        ]
        == 1
    )
    for bad, field in (
        ({"gpu": {"count": -1}}, "execution.gpu.count"),
        ({"image": "bad image name"}, "execution.image"),
        ({"gpus": 1}, "execution.gpus"),
    ):
        response = provider.http.post(
            f"/resources/{published.name}/versions",
            data={"config": json.dumps(TINY_CONFIG), "execution": json.dumps(bad)},
            files=[("files", (weights.name, weights.read_bytes()))],
        )
        assert response.status_code == 422, response.text
        assert field in response.text, response.text


def test_a_runs_dict_variables_keep_the_deployments_keys() -> None:
    """deploy/prefect.yaml gives docker runs `shm_size`; a GPU version's `container_create_kwargs` keeps it."""
    gpu = job_variables(pool_type="docker", execution=ExecutionSpec.model_validate({"gpu": {"count": 1}, "cpu": 2}))
    deployment = {"container_create_kwargs": {"shm_size": "2g", "nano_cpus": 1}, "network_mode": "host"}
    merged = over_deployment(deployment, gpu)
    assert merged["container_create_kwargs"] == {
        "shm_size": "2g",
        "nano_cpus": 2_000_000_000,  # the run's value wins
        "device_requests": [{"driver": "nvidia", "count": 1, "capabilities": [["gpu"]]}],
    }
    assert "network_mode" not in merged, "what the run does not set stays the deployment's, in Prefect"
    assert over_deployment(None, gpu) == gpu and over_deployment(deployment, {}) == {}
