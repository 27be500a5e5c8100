"""The Helm chart in helm/model-commons: rendered offline by Helm itself (helm-python-sdk embeds Helm v4),
every manifest validated against the Kubernetes JSON schemas (kubernetes-validate, strict), and the
promises of the chart checked: schema, non-root, GPU placement, config checksum, secrets, work pool."""

from __future__ import annotations

import base64
import copy
import json
from importlib.metadata import version
from pathlib import Path
from types import ModuleType
from typing import Any
from uuid import uuid4

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "helm" / "model-commons"
DEPLOY_POOL_TEMPLATE = ROOT / "deploy" / "work-pools" / "kubernetes.json"
KUBE_VERSION = "1.33.0"
GPU = "nvidia.com/gpu"
RELEASE, NAMESPACE = "commons", "ml"
PREFIX = f"{RELEASE}-model-commons"

GPU_VALUES: dict[str, Any] = {
    "gpu": {
        "count": 1,
        "nodeSelector": {"nvidia.com/gpu.present": "true"},
        "tolerations": [{"key": GPU, "operator": "Exists", "effect": "NoSchedule"}],
    },
    "postgresql": {"enabled": False},
    "externalDatabase": {"url": "postgresql+psycopg://commons:db-pass-1@pg.example.org:5432/commons"},
}
EXTERNAL_VALUES: dict[str, Any] = {
    "minio": {"enabled": False},
    "postgresql": {"enabled": False},
    "externalS3": {"endpoint": "s3.example.org:443", "secure": True},
    "secrets": {"existingSecret": "commons-managed"},
    "prefect": {"externalApiUrl": "https://prefect.example.org/api"},
    "ingress": {"enabled": True, "host": "commons.example.org", "tlsSecretName": "commons-tls"},
    "warmWorkers": {"replicas": 0},
}
SCENARIOS = {"default": {}, "gpu": GPU_VALUES, "external": EXTERNAL_VALUES}
POD_KINDS = {"Deployment", "StatefulSet", "Job"}


@pytest.fixture(scope="session")
def helm() -> ModuleType:
    try:
        import helm_python
    except ImportError as error:  # pragma: no cover - a set-up failure, reported clearly
        pytest.fail(
            f"helm-python-sdk (Helm embedded as a library) is not installed: {error}. "
            "Install the dev dependencies: pip install -e '.[dev]'"
        )
    return helm_python


@pytest.fixture(scope="session")
def render(helm: ModuleType) -> Any:
    cache: dict[str, list[dict[str, Any]]] = {}

    def _render(values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
        key = json.dumps(values, sort_keys=True)
        if key not in cache:
            with helm.Chart.load(str(CHART)) as chart:
                files = chart.render(values, name=RELEASE, namespace=NAMESPACE, is_install=True)
            cache[key] = [
                doc
                for path, text in sorted(files.items())
                if path.endswith((".yaml", ".yml"))
                for doc in yaml.safe_load_all(text)
                if doc
            ]
        return copy.deepcopy(cache[key])

    return _render


def find(manifests: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind} {name}, found {[m['metadata']['name'] for m in manifests]}"
    return matches[0]


def pod_specs(manifests: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{m['kind']}/{m['metadata']['name']}": m["spec"]["template"]["spec"]
        for m in manifests
        if m["kind"] in POD_KINDS
    }


def job_template(manifests: list[dict[str, Any]]) -> dict[str, Any]:
    config_map = find(manifests, "ConfigMap", f"{PREFIX}-job-template")
    template: dict[str, Any] = json.loads(config_map["data"]["base-job-template.json"])
    return template


def flow_run_job(template: dict[str, Any], job_variables: dict[str, Any]) -> dict[str, Any]:
    """The Job manifest the Prefect Kubernetes worker would submit for a flow run with these job variables."""
    from prefect.client.schemas.objects import FlowRun
    from prefect.utilities.templating import apply_values
    from prefect_kubernetes.worker import KubernetesWorkerJobConfiguration

    variables = KubernetesWorkerJobConfiguration._get_base_config_defaults(template["variables"]["properties"])
    variables.update(job_variables)
    config = KubernetesWorkerJobConfiguration(**apply_values(template["job_configuration"], variables))
    config.prepare_for_flow_run(FlowRun(flow_id=uuid4(), name="calm-otter"))
    manifest: dict[str, Any] = config.job_manifest
    return manifest


def checksum(manifests: list[dict[str, Any]], kind: str, name: str) -> str:
    value: str = find(manifests, kind, name)["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    return value


# --- every manifest is valid Kubernetes -------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_manifest_validates_against_the_kubernetes_schemas(render: Any, scenario: str) -> None:
    import kubernetes_validate

    manifests = render(SCENARIOS[scenario])
    assert len(manifests) >= 8
    for manifest in manifests:
        label = f"{manifest.get('kind')}/{manifest.get('metadata', {}).get('name')}"
        try:
            kubernetes_validate.validate(manifest, KUBE_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            pytest.fail(f"{scenario}: {label} is not valid Kubernetes {KUBE_VERSION}: {error.message}")
    # the flow-run Job the worker builds from the chart's pool template is valid too, GPU or not
    template = job_template(manifests)
    for job_variables in ({}, {"gpu_limit": 2, "image": "registry.example.org/sam:1"}):
        kubernetes_validate.validate(flow_run_job(template, job_variables), KUBE_VERSION, strict=True)


def test_default_render_has_every_component(render: Any) -> None:
    kinds = {(m["kind"], m["metadata"]["name"]) for m in render()}
    for expected in [
        ("Deployment", f"{PREFIX}-api"),
        ("Service", f"{PREFIX}-api"),
        ("ConfigMap", f"{PREFIX}-config"),
        ("Secret", f"{PREFIX}-secrets"),
        ("Deployment", f"{PREFIX}-prefect"),
        ("Service", f"{PREFIX}-prefect"),
        ("Deployment", f"{PREFIX}-worker"),
        ("ServiceAccount", f"{PREFIX}-worker"),
        ("Role", f"{PREFIX}-worker"),
        ("RoleBinding", f"{PREFIX}-worker"),
        ("Job", f"{PREFIX}-setup"),
        ("Deployment", f"{PREFIX}-warm-worker"),
        ("StatefulSet", f"{PREFIX}-minio"),
        ("StatefulSet", f"{PREFIX}-postgresql"),
    ]:
        assert expected in kinds, f"{expected} missing from the default render"
    assert not any(kind == "Ingress" for kind, _ in kinds)


def test_external_services_replace_the_bundled_ones(render: Any) -> None:
    manifests = render(EXTERNAL_VALUES)
    kinds = {(m["kind"], m["metadata"]["name"]) for m in manifests}
    assert not any(kind in {"StatefulSet", "Secret", "PersistentVolumeClaim"} for kind, _ in kinds)
    assert ("Deployment", f"{PREFIX}-prefect") not in kinds
    assert ("Deployment", f"{PREFIX}-warm-worker") not in kinds
    config = find(manifests, "ConfigMap", f"{PREFIX}-config")["data"]
    assert config["COMMONS_S3_ENDPOINT"] == "s3.example.org:443"
    assert config["COMMONS_S3_SECURE"] == "true"
    assert config["COMMONS_PREFECT_API_URL"] == config["PREFECT_API_URL"] == "https://prefect.example.org/api"
    api = find(manifests, "Deployment", f"{PREFIX}-api")["spec"]["template"]["spec"]
    assert {"secretRef": {"name": "commons-managed"}} in api["containers"][0]["envFrom"]
    ingress = find(manifests, "Ingress", f"{PREFIX}-api")
    assert ingress["spec"]["tls"][0]["secretName"] == "commons-tls"


def test_external_store_without_an_endpoint_is_refused(helm: ModuleType, render: Any) -> None:
    with pytest.raises(helm.HelmError, match=r"externalS3\.endpoint is required"):
        render({"minio": {"enabled": False}})
    with pytest.raises(helm.HelmError, match=r"externalDatabase\.url is required"):
        render({"postgresql": {"enabled": False}})


# --- values.schema.json and helm lint -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"gpu": {"count": -1}}, "/gpu/count.*minimum"),
        ({"gpu": {"count": "1"}}, "/gpu/count.*integer"),
        ({"unknownKey": True}, "unknownKey"),
        ({"gpu": {"count": 1, "vendor": "amd"}}, "vendor"),
        ({"api": {"replicas": 0}}, "/api/replicas.*minimum"),
        ({"environment": "staging"}, "/environment"),
        ({"image": {"repository": "x", "tag": "latest", "pullPolicy": "Always"}}, "/image/tag"),
        ({"podSecurityContext": {"runAsNonRoot": False}}, "/podSecurityContext/runAsNonRoot"),
        (
            {"containerSecurityContext": {"allowPrivilegeEscalation": True}},
            "/containerSecurityContext/allowPrivilegeEscalation",
        ),
        ({"extraConfig": {"COMMONS_SECRET_KEY": "oops"}}, "propertyName .COMMONS_SECRET_KEY"),
        ({"externalS3": {"endpoint": "https://s3.example.org"}}, "/externalS3/endpoint"),
        ({"workPool": {"worker": {"image": {"pullPolicy": "Sometimes"}}}}, "/workPool/worker/image/pullPolicy"),
    ],
)
def test_values_schema_rejects_bad_values(helm: ModuleType, values: dict[str, Any], message: str) -> None:
    with helm.Chart.load(str(CHART)) as chart, pytest.raises(helm.HelmValuesError, match=message):
        chart.render(values, name=RELEASE, namespace=NAMESPACE)


def test_values_schema_is_strict_draft_07_and_covers_every_value() -> None:
    import jsonschema

    schema = json.loads((CHART / "values.schema.json").read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    jsonschema.Draft7Validator(schema).validate(defaults)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(defaults), "every top-level value has a schema and vice versa"


def test_every_value_is_documented() -> None:
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for number, line in enumerate(lines):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", "-")) or ":" not in stripped:
            continue
        above = [previous.strip() for previous in lines[:number] if previous.strip()]
        comment_block = []
        for previous in reversed(above):
            if not previous.startswith("#"):
                break
            comment_block.append(previous)
        if not any(entry.startswith("# --") for entry in comment_block):
            undocumented.append(f"line {number + 1}: {stripped}")
    assert not undocumented, "values without a `# --` comment above them:\n" + "\n".join(undocumented)


@pytest.mark.parametrize("scenario", ["default", "gpu"])
def test_helm_lint_passes(helm: ModuleType, scenario: str) -> None:
    report = helm.lint(str(CHART), SCENARIOS[scenario] or None, strict=True, namespace=NAMESPACE)
    assert report["errors"] == []
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert problems == [], problems


# --- security ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_pod_and_container_runs_non_root(render: Any, scenario: str) -> None:
    manifests = render(SCENARIOS[scenario])
    pods = pod_specs(manifests)
    flow_run = flow_run_job(job_template(manifests), {"gpu_limit": 1})
    pods["flow-run Job"] = flow_run["spec"]["template"]["spec"]
    assert len(pods) >= 4
    for name, pod in pods.items():
        context = pod["securityContext"]
        assert context["runAsNonRoot"] is True, name
        assert context["runAsUser"] > 0, name
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}, name
        temporary = {v["name"] for v in pod.get("volumes", []) if "emptyDir" in v}
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name} container {container['name']}"
            security = container["securityContext"]
            assert security["runAsNonRoot"] is True, where
            assert security["allowPrivilegeEscalation"] is False, where
            assert security["readOnlyRootFilesystem"] is True, where
            assert security["capabilities"] == {"drop": ["ALL"]}, where
            assert security["seccompProfile"] == {"type": "RuntimeDefault"}, where
            mounts = {m["mountPath"]: m["name"] for m in container.get("volumeMounts", [])}
            assert mounts.get("/tmp") in temporary, f"{where}: /tmp is not a writable emptyDir"
            assert "resources" in container and container["resources"].get("limits"), where


def test_postgres_runs_as_its_own_non_root_user(render: Any) -> None:
    pod = pod_specs(render())[f"StatefulSet/{PREFIX}-postgresql"]
    assert pod["securityContext"]["runAsUser"] == 999
    assert pod["securityContext"]["runAsNonRoot"] is True


def test_no_secret_value_reaches_a_config_map(render: Any) -> None:
    secrets = {
        "secretKey": "token-signing-key-0123456789",
        "s3AccessKey": "s3-access-id-42",
        "s3SecretKey": "s3-secret-value-0123456789",
    }
    values = {"secrets": secrets, "postgresql": {"password": "pg-password-0123456789"}}
    manifests = render(values)
    secret = find(manifests, "Secret", f"{PREFIX}-secrets")
    decoded = {key: base64.b64decode(value).decode() for key, value in secret["data"].items()}
    assert decoded["COMMONS_SECRET_KEY"] == secrets["secretKey"]
    assert decoded["COMMONS_S3_SECRET_KEY"] == secrets["s3SecretKey"]
    assert decoded["POSTGRES_PASSWORD"] == "pg-password-0123456789"
    url = decoded["COMMONS_DATABASE_URL"]
    assert url == f"postgresql+psycopg://commons:pg-password-0123456789@{PREFIX}-postgresql:5432/commons"
    sensitive = [*secrets.values(), "pg-password-0123456789"]
    for config_map in (m for m in manifests if m["kind"] == "ConfigMap"):
        text = json.dumps(config_map)
        for value in sensitive:
            assert value not in text, f"a secret value is in ConfigMap {config_map['metadata']['name']}"
    for name, pod in pod_specs(manifests).items():
        assert not any(value in json.dumps(pod) for value in sensitive), f"a secret value is inlined in {name}"


WORKER_SECRET_KEYS = ["COMMONS_DATABASE_URL", "COMMONS_S3_ACCESS_KEY", "COMMONS_S3_SECRET_KEY"]


def secret_env_names(container: dict[str, Any], secret: str) -> list[str]:
    """The variables a container takes from Secret `secret`: one by one (secretKeyRef) or all (envFrom)."""
    names = [
        entry["name"]
        for entry in container.get("env", [])
        if entry.get("valueFrom", {}).get("secretKeyRef", {}).get("name") == secret
    ]
    if any(source.get("secretRef", {}).get("name") == secret for source in container.get("envFrom", [])):
        names.append("<the whole Secret>")
    return names


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_worker_containers_never_hold_the_jwt_key(render: Any, scenario: str) -> None:
    """Only the API signs tokens: warm workers, the setup hook and every flow-run Job (which may run an image a
    version named) take the database URL and S3 keys from the Secret, never COMMONS_SECRET_KEY."""
    manifests = render(SCENARIOS[scenario])
    secret = EXTERNAL_VALUES["secrets"]["existingSecret"] if scenario == "external" else f"{PREFIX}-secrets"
    pods = pod_specs(manifests)
    flow_run = flow_run_job(job_template(manifests), {"image": "registry.example.org/sam:1", "gpu_limit": 1})
    pods["flow-run Job"] = flow_run["spec"]["template"]["spec"]
    api = pods.pop(f"Deployment/{PREFIX}-api")
    assert all("<the whole Secret>" in secret_env_names(c, secret) for c in api["initContainers"] + api["containers"])
    workers = {f"Job/{PREFIX}-setup", "flow-run Job"}
    if scenario != "external":
        workers.add(f"Deployment/{PREFIX}-warm-worker")
    assert workers <= set(pods)
    for name, pod in pods.items():
        for container in pod.get("initContainers", []) + pod["containers"]:
            where = f"{name} container {container['name']}"
            assert "COMMONS_SECRET_KEY" not in json.dumps(container), f"{where} holds the JWT key"
            taken = secret_env_names(container, secret)
            assert "<the whole Secret>" not in taken, f"{where} takes the whole Secret, JWT key included"
            if name in workers:
                assert taken == WORKER_SECRET_KEYS, where
    env = {entry["name"]: entry for entry in flow_run["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert "PREFECT__FLOW_RUN_ID" in env, "the worker still puts the run's own variables in the container"


def test_the_worker_image_is_the_allowed_image(render: Any) -> None:
    from commons.settings import DEFAULT_ALLOWED_IMAGES, Settings

    defaults = yaml.safe_load((CHART / "values.yaml").read_text())["workerImage"]
    image = f"{defaults['repository']}:{defaults['tag']}"
    assert image in DEFAULT_ALLOWED_IMAGES, "the chart's worker image is one of the platform's default images"
    worker_image = {"workerImage": {"repository": "registry.example.org/commons-worker", "tag": "2.0"}}
    config = find(render(worker_image), "ConfigMap", f"{PREFIX}-config")["data"]
    assert config["COMMONS_ALLOWED_IMAGES"] == "registry.example.org/commons-worker:2.0"
    assert Settings(allowed_images=config["COMMONS_ALLOWED_IMAGES"]).allowed_images == [
        "registry.example.org/commons-worker:2.0"
    ]
    extended = {"extraConfig": {"COMMONS_ALLOWED_IMAGES": "registry.example.org/commons-worker:2.0,ghcr.io/lab/*"}}
    config = find(render(extended), "ConfigMap", f"{PREFIX}-config")["data"]
    assert config["COMMONS_ALLOWED_IMAGES"] == extended["extraConfig"]["COMMONS_ALLOWED_IMAGES"]


def test_generated_secrets_are_strong_when_none_are_given(render: Any) -> None:
    secret = find(render(), "Secret", f"{PREFIX}-secrets")
    key = base64.b64decode(secret["data"]["COMMONS_SECRET_KEY"]).decode()
    assert len(key) >= 32
    from commons.settings import PLACEHOLDER_SECRETS

    assert key not in PLACEHOLDER_SECRETS


# --- config checksum --------------------------------------------------------------------------------


def test_config_checksum_changes_with_a_config_value_only(render: Any) -> None:
    rolled = [
        ("Deployment", f"{PREFIX}-api"),
        ("Deployment", f"{PREFIX}-worker"),
        ("Deployment", f"{PREFIX}-warm-worker"),
    ]
    base = render()
    same = render({"api": {"replicas": 2}})
    changed = render({"bucket": "other-bucket"})
    extra = render({"extraConfig": {"COMMONS_CORS_ORIGINS": "https://commons.example.org"}})
    for kind, name in rolled:
        assert checksum(base, kind, name) == checksum(same, kind, name), f"{name}: replicas are not config"
        assert checksum(base, kind, name) != checksum(changed, kind, name), f"{name}: bucket change did not roll"
        assert checksum(base, kind, name) != checksum(extra, kind, name), f"{name}: extraConfig did not roll"
    assert len({checksum(base, kind, name) for kind, name in rolled}) == 1


# --- GPU placement ----------------------------------------------------------------------------------


def test_no_gpu_limit_or_placement_by_default(render: Any) -> None:
    manifests = render()
    for name, pod in pod_specs(manifests).items():
        for container in pod["containers"]:
            assert GPU not in container.get("resources", {}).get("limits", {}), name
    warm = pod_specs(manifests)[f"Deployment/{PREFIX}-warm-worker"]
    assert "nodeSelector" not in warm and "tolerations" not in warm and "affinity" not in warm
    template = job_template(manifests)
    properties = template["variables"]["properties"]
    assert "default" not in properties["gpu_limit"]
    assert "default" not in properties["node_selector"] and "default" not in properties["tolerations"]
    job = flow_run_job(template, {})["spec"]["template"]["spec"]
    assert GPU not in job["containers"][0]["resources"].get("limits", {})
    assert "nodeSelector" not in job and "tolerations" not in job


def test_gpu_values_place_gpu_pods_only(render: Any) -> None:
    manifests = render(GPU_VALUES)
    pods = pod_specs(manifests)
    warm = pods.pop(f"Deployment/{PREFIX}-warm-worker")
    assert warm["containers"][0]["resources"]["limits"][GPU] == 1
    assert warm["containers"][0]["resources"]["limits"]["memory"] == "16Gi"
    assert warm["nodeSelector"] == GPU_VALUES["gpu"]["nodeSelector"]
    assert warm["tolerations"] == GPU_VALUES["gpu"]["tolerations"]
    for name, pod in pods.items():  # API, Prefect server and worker, setup job: no GPU, no GPU placement
        assert GPU not in json.dumps(pod), name
    template = job_template(manifests)
    job = flow_run_job(template, {})["spec"]["template"]["spec"]
    assert job["containers"][0]["resources"]["limits"][GPU] == 1
    assert job["nodeSelector"] == GPU_VALUES["gpu"]["nodeSelector"]
    assert job["tolerations"] == GPU_VALUES["gpu"]["tolerations"]
    # a version asking for more GPUs overrides the default through the declared variable
    bigger = flow_run_job(template, {"gpu_limit": 4})["spec"]["template"]["spec"]
    assert bigger["containers"][0]["resources"]["limits"][GPU] == 4


def test_gpu_task_job_variables_from_the_api_land_in_the_flow_run_job(render: Any) -> None:
    from registry.schemas import ExecutionSpec
    from services.job_variables import kubernetes_job_variables

    spec = ExecutionSpec.model_validate(
        {"image": "registry.example.org/sam:2", "gpu": {"count": 2, "min_memory_gb": 40}}
    )
    job = flow_run_job(job_template(render()), kubernetes_job_variables(spec))
    pod = job["spec"]["template"]["spec"]
    assert pod["containers"][0]["image"] == "registry.example.org/sam:2"
    assert pod["containers"][0]["resources"]["limits"][GPU] == 2
    terms = pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms[0]["matchExpressions"][0]["key"] == "nvidia.com/gpu.memory"


def placeholder_paths(node: Any, path: str = "") -> dict[str, set[str]]:
    """`{{ variable }}` placeholders of a job configuration → the JSON paths where each sits."""
    found: dict[str, set[str]] = {}
    if isinstance(node, dict):
        items: list[tuple[str, Any]] = [(f"{path}/{key}", value) for key, value in node.items()]
    elif isinstance(node, list):
        items = [(f"{path}/{index}", value) for index, value in enumerate(node)]
    else:
        if isinstance(node, str) and node.startswith("{{ ") and node.endswith(" }}"):
            found.setdefault(node[3:-3], set()).add(path)
        return found
    for child_path, child in items:
        for name, paths in placeholder_paths(child, child_path).items():
            found.setdefault(name, set()).update(paths)
    return found


def test_pool_template_agrees_with_deploy_work_pools_kubernetes(render: Any) -> None:
    """The chart's copy of the base job template keeps the project's variables where deploy/ puts them."""
    assert DEPLOY_POOL_TEMPLATE.exists(), f"{DEPLOY_POOL_TEMPLATE} is missing (flows/work_pools.py writes it)"
    project = json.loads(DEPLOY_POOL_TEMPLATE.read_text())
    chart = job_template(render())
    ours, theirs = placeholder_paths(chart["job_configuration"]), placeholder_paths(project["job_configuration"])
    # `env`: the chart's flow-run container lists the Secret's keys it may have instead of the placeholder (the
    # worker puts the run's `env` before them); see test_worker_containers_never_hold_the_jwt_key.
    assert ours.get("env") == {"/env"} and "/env" in theirs.get("env", set())
    shared = ["image", "gpu_limit", "node_selector", "tolerations", "affinity", "command", "namespace"]
    shared += ["cpu_request", "cpu_limit", "memory_request", "memory_limit", "service_account_name"]
    for variable in shared:
        assert variable in project["variables"]["properties"], f"deploy/ no longer declares {variable}"
        assert ours.get(variable) == theirs.get(variable), (
            f"{variable}: chart {ours.get(variable)} != {theirs.get(variable)}"
        )
        assert variable in chart["variables"]["properties"], f"the chart does not declare {variable}"
    for variable in ("gpu_limit", "node_selector", "tolerations", "affinity"):
        mine, project_schema = chart["variables"]["properties"][variable], project["variables"]["properties"][variable]
        assert mine["type"] == project_schema["type"], variable


# --- Prefect server, worker and work pool -----------------------------------------------------------


def test_prefect_images_are_pinned_to_the_projects_prefect(render: Any) -> None:
    prefect = version("prefect")
    manifests = render()
    server = pod_specs(manifests)[f"Deployment/{PREFIX}-prefect"]["containers"][0]
    assert server["image"] == f"prefecthq/prefect:{prefect}-python3.11"
    assert server["command"][:3] == ["prefect", "server", "start"]
    worker = pod_specs(manifests)[f"Deployment/{PREFIX}-worker"]["containers"][0]
    assert worker["image"] == f"prefecthq/prefect:{prefect}-python3.11-kubernetes"


def test_worker_runs_the_kubernetes_pool_with_rights_to_create_jobs(render: Any) -> None:
    manifests = render()
    worker = pod_specs(manifests)[f"Deployment/{PREFIX}-worker"]
    command = worker["containers"][0]["command"]
    assert command[:3] == ["prefect", "worker", "start"]
    assert command[command.index("--pool") + 1] == "commons-kubernetes"
    assert command[command.index("--type") + 1] == "kubernetes"
    assert worker["serviceAccountName"] == f"{PREFIX}-worker"
    rules = find(manifests, "Role", f"{PREFIX}-worker")["rules"]
    assert any("batch" in r["apiGroups"] and "jobs" in r["resources"] and "create" in r["verbs"] for r in rules)
    assert any("" in r["apiGroups"] and "pods" in r["resources"] and "watch" in r["verbs"] for r in rules)
    binding = find(manifests, "RoleBinding", f"{PREFIX}-worker")
    assert binding["roleRef"]["name"] == f"{PREFIX}-worker"
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": f"{PREFIX}-worker", "namespace": NAMESPACE}]


def test_setup_hook_creates_the_pool_from_the_template_and_applies_the_deployment(render: Any) -> None:
    manifests = render({"workPool": {"name": "gpu-pool", "deploymentName": "prod"}})
    job = find(manifests, "Job", f"{PREFIX}-setup")
    assert set(job["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"post-install", "post-upgrade"}
    pod = job["spec"]["template"]["spec"]
    script = pod["containers"][0]["command"][-1]
    assert 'prefect work-pool create "$COMMONS_WORK_POOL" --type kubernetes' in script
    assert "--base-job-template /config/base-job-template.json --overwrite" in script
    assert "python -m flows.deployment" in script
    volume = next(v for v in pod["volumes"] if v["name"] == "job-template")
    assert volume["configMap"]["name"] == f"{PREFIX}-job-template"
    config = find(manifests, "ConfigMap", f"{PREFIX}-config")["data"]
    assert config["COMMONS_WORK_POOL"] == "gpu-pool" and config["COMMONS_DEPLOYMENT_NAME"] == "prod"
    properties = job_template(manifests)["variables"]["properties"]
    assert properties["namespace"]["default"] == NAMESPACE
    assert properties["image"]["default"] == "model-commons/worker:0.1.0"


def test_api_migrates_before_it_serves_and_probes_health(render: Any) -> None:
    api = pod_specs(render())[f"Deployment/{PREFIX}-api"]
    (migrate,) = api["initContainers"]
    assert "registry.migrate import upgrade" in migrate["command"][-1]
    container = api["containers"][0]
    assert container["command"][:2] == ["commons", "serve"]  # uvicorn with the limits of `commons up`
    assert {"name": "COMMONS_TRUSTED_PROXIES", "value": ""} in container["env"]
    proxied = pod_specs(render({"api": {"trustedProxies": "10.0.0.0/8"}}))[f"Deployment/{PREFIX}-api"]
    assert {"name": "COMMONS_TRUSTED_PROXIES", "value": "10.0.0.0/8"} in proxied["containers"][0]["env"]
    assert container["readinessProbe"]["httpGet"]["path"] == "/api/v1/health"
    assert "livenessProbe" in container
    no_migrate = pod_specs(render({"api": {"migrate": False}}))[f"Deployment/{PREFIX}-api"]
    assert "initContainers" not in no_migrate
