"""A version's execution spec → the job variables of a flow run on each kind of Prefect work pool.

- process (embedded): none; the flow uses the worker's local device.
- docker (prefect-docker): `image`, `mem_limit`, and `container_create_kwargs` carrying
  `device_requests: [{"driver": "nvidia", "count": N, "capabilities": [["gpu"]]}]` and `nano_cpus`.
- kubernetes (prefect-kubernetes with flows/work_pools.py's template): `image`, `gpu_limit` (→
  `resources.limits["nvidia.com/gpu"]`), `cpu_request`, `memory_request`/`memory_limit`, and for a
  minimum GPU memory a node affinity on the GPU feature discovery label `nvidia.com/gpu.memory` (MiB).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from registry.schemas import ExecutionSpec

GPU_MEMORY_LABEL = "nvidia.com/gpu.memory"  # set by NVIDIA GPU feature discovery, in MiB
MIB = 1024 * 1024


def _mebibytes(gigabytes: float) -> int:
    return math.ceil(gigabytes * 1e9 / MIB)


def docker_job_variables(spec: ExecutionSpec) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    create: dict[str, Any] = {}
    if spec.image:
        variables["image"] = spec.image
    if spec.gpu is not None and spec.gpu.count > 0:
        create["device_requests"] = [{"driver": "nvidia", "count": spec.gpu.count, "capabilities": [["gpu"]]}]
    if spec.cpu is not None:
        create["nano_cpus"] = round(spec.cpu * 1e9)
    if spec.memory_gb is not None:
        variables["mem_limit"] = f"{_mebibytes(spec.memory_gb)}m"
    if create:
        variables["container_create_kwargs"] = create
    return variables


def kubernetes_job_variables(spec: ExecutionSpec) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    if spec.image:
        variables["image"] = spec.image
    if spec.gpu is not None and spec.gpu.count > 0:
        variables["gpu_limit"] = spec.gpu.count
        if spec.gpu.min_memory_gb is not None:
            floor_mib = _mebibytes(spec.gpu.min_memory_gb)
            requirement = {"key": GPU_MEMORY_LABEL, "operator": "Gt", "values": [str(floor_mib - 1)]}
            variables["affinity"] = {
                "nodeAffinity": {
                    "requiredDuringSchedulingIgnoredDuringExecution": {
                        "nodeSelectorTerms": [{"matchExpressions": [requirement]}]
                    }
                }
            }
    if spec.cpu is not None:
        variables["cpu_request"] = f"{round(spec.cpu * 1000)}m"
    if spec.memory_gb is not None:
        variables["memory_request"] = variables["memory_limit"] = f"{_mebibytes(spec.memory_gb)}Mi"
    return variables


def over_deployment(deployment: Mapping[str, Any] | None, variables: dict[str, Any]) -> dict[str, Any]:
    """The run's job variables over the deployment's: Prefect replaces a deployment variable by the run's of the
    same name, so a dict the deployment sets (docker's `container_create_kwargs`: `shm_size` in
    deploy/prefect.yaml) keeps its keys under the run's (`device_requests`, `nano_cpus`)."""
    merged = dict(variables)
    for name, value in variables.items():
        base = (deployment or {}).get(name)
        if isinstance(value, dict) and isinstance(base, dict):
            merged[name] = {**base, **value}
    return merged


def job_variables(*, pool_type: str, execution: ExecutionSpec | None) -> dict[str, Any]:
    """The flow run's job variables for a pool of `pool_type`; empty for process pools or no spec."""
    if execution is None:
        return {}
    if pool_type == "docker":
        return docker_job_variables(execution)
    if pool_type == "kubernetes":
        return kubernetes_job_variables(execution)
    return {}
