"""Base job templates of the production work pools: the Prefect libraries' defaults plus GPU variables.

- docker (prefect-docker): the library's template unchanged; a GPU goes through its
  `container_create_kwargs` variable as `device_requests`.
- kubernetes (prefect-kubernetes): the library's template (with `completions`/`parallelism` moved from the
  pod spec to the Job spec, where Kubernetes defines them) plus declared variables `gpu_limit`
  (→ the job container's `resources.limits["nvidia.com/gpu"]`), `node_selector`, `tolerations` and
  `affinity` (→ the pod spec). A variable left unset is removed from the manifest (Prefect's templating).

`python -m flows.work_pools docker|kubernetes` prints a template; `deploy/work-pools/*.json` are those
outputs, checked by the tests, and are what `prefect work-pool create --base-job-template` takes.
"""

from __future__ import annotations

import copy
import json
import sys
from typing import Any

POOL_TYPES = ("process", "docker", "kubernetes")
GPU_RESOURCE = "nvidia.com/gpu"

_KUBERNETES_VARIABLES: dict[str, dict[str, Any]] = {
    "gpu_limit": {
        "title": "GPU limit",
        "description": f"Whole GPUs for the job's container: resources.limits[{GPU_RESOURCE!r}] "
        "(NVIDIA device plugin).",
        "type": "integer",
        "minimum": 0,
    },
    "node_selector": {
        "title": "Node selector",
        "description": "Labels a node must carry to run the job, e.g. {'nvidia.com/gpu.present': 'true'}.",
        "type": "object",
        "additionalProperties": {"type": "string"},
    },
    "tolerations": {
        "title": "Tolerations",
        "description": "Pod tolerations, e.g. for the taint nvidia.com/gpu=present:NoSchedule on GPU nodes.",
        "type": "array",
        "items": {"type": "object"},
    },
    "affinity": {
        "title": "Affinity",
        "description": "Pod affinity; Model Commons sets a node affinity on nvidia.com/gpu.memory "
        "for a minimum GPU memory.",
        "type": "object",
    },
}


def docker_template() -> dict[str, Any]:
    from prefect_docker.worker import DockerWorker

    return copy.deepcopy(DockerWorker.get_default_base_job_template())


def kubernetes_template() -> dict[str, Any]:
    from prefect_kubernetes.worker import KubernetesWorker

    template = copy.deepcopy(KubernetesWorker.get_default_base_job_template())
    template["variables"]["properties"].update(copy.deepcopy(_KUBERNETES_VARIABLES))
    job_spec = template["job_configuration"]["job_manifest"]["spec"]
    pod_spec = job_spec["template"]["spec"]
    # The library puts the Job's completions/parallelism in the pod spec, where Kubernetes' schema has no such
    # fields (the API server drops them); they belong to the Job.
    for field in ("completions", "parallelism"):
        if field in pod_spec:
            job_spec[field] = pod_spec.pop(field)
    container = pod_spec["containers"][0]
    container["resources"]["limits"][GPU_RESOURCE] = "{{ gpu_limit }}"
    pod_spec["nodeSelector"] = "{{ node_selector }}"
    pod_spec["tolerations"] = "{{ tolerations }}"
    pod_spec["affinity"] = "{{ affinity }}"
    return template


def base_job_template(pool_type: str) -> dict[str, Any] | None:
    """The template to create a pool of `pool_type` with; None for `process` (Prefect's default serves)."""
    if pool_type == "docker":
        return docker_template()
    if pool_type == "kubernetes":
        return kubernetes_template()
    if pool_type == "process":
        return None
    raise ValueError(f"unknown work pool type {pool_type!r}; choose one of {', '.join(POOL_TYPES)}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in ("docker", "kubernetes"):
        sys.exit("usage: python -m flows.work_pools docker|kubernetes")
    print(json.dumps(base_job_template(sys.argv[1]), indent=2, sort_keys=True))
