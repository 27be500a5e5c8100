"""deploy/compose.yaml, checked by the real Compose parser, the compose-spec schema and the app's Settings."""

from __future__ import annotations

import copy
import importlib.resources
import json
import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest

from commons.settings import Settings
from tests.deploy.conftest import DEPLOY, ENV_EXAMPLE, read_env_file, run_compose

APP_SERVICES = ("api", "deployment", "gpu-worker", "warm-worker")
GPU_SERVICES = ("gpu-worker", "warm-worker")
PUBLIC_PORTS = {("api", 8000), ("minio", 9000)}  # the API, and MinIO's S3 API for presigned downloads
REQUIRED_APP_ENVIRONMENT = (
    "COMMONS_ENVIRONMENT",
    "COMMONS_DATABASE_URL",
    "COMMONS_S3_ENDPOINT",
    "COMMONS_S3_ACCESS_KEY",
    "COMMONS_S3_SECRET_KEY",
    "COMMONS_S3_BUCKET",
    "COMMONS_PREFECT_API_URL",
    "COMMONS_WORK_POOL",
    "COMMONS_DEPLOYMENT_NAME",
    "PREFECT_API_URL",
)


def compose_spec_schema() -> dict[str, Any]:
    """The compose-spec JSON schema as vendored by check-jsonschema (a pinned dev dependency)."""
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    loaded: dict[str, Any] = json.loads((vendor / "compose-spec.json").read_text())
    return loaded


def schema_errors(document: dict[str, Any]) -> list[str]:
    schema = compose_spec_schema()
    validator = jsonschema.validators.validator_for(schema)(schema)
    return [f"{'/'.join(map(str, error.absolute_path))}: {error.message}" for error in validator.iter_errors(document)]


def published(port: Any) -> tuple[str, int]:
    """(host address, host port) of one resolved `ports` entry, short or long syntax."""
    if isinstance(port, dict):
        return str(port.get("host_ip") or "0.0.0.0"), int(port["published"])
    parts = str(port).split("/")[0].split(":")
    if len(parts) == 3:
        return parts[0], int(parts[1])
    if len(parts) == 2:
        return "0.0.0.0", int(parts[0])
    raise AssertionError(f"port {port!r} publishes on a random host port")


def settings_from(environment: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name in os.environ:
        if name.startswith("COMMONS_"):
            monkeypatch.delenv(name)
    for name, value in environment.items():
        if name.startswith("COMMONS_"):
            monkeypatch.setenv(name, value)
    return Settings()


def test_compose_file_parses_with_the_example_env() -> None:
    result = run_compose(ENV_EXAMPLE, "config", "--quiet")
    assert result.returncode == 0, result.stderr


def test_compose_refuses_to_start_without_the_secrets(tmp_path: Path) -> None:
    empty = tmp_path / "empty.env"
    empty.write_text("")
    result = run_compose(empty, "config", "--quiet")
    assert result.returncode != 0
    assert "in deploy/.env" in result.stderr, result.stderr


def test_compose_file_matches_the_compose_spec_schema(compose_raw: dict[str, Any]) -> None:
    assert schema_errors(compose_raw) == []


def test_the_schema_check_rejects_a_broken_file(compose_raw: dict[str, Any]) -> None:
    broken = copy.deepcopy(compose_raw)
    broken["services"]["api"]["healthcheck"]["intervall"] = "5s"  # a typo Compose would ignore silently
    broken["services"]["gpu-worker"]["deploy"]["resources"]["reservations"]["devices"][0]["gpus"] = 1
    errors = schema_errors(broken)
    assert any(error.startswith("services/api/healthcheck") and "intervall" in error for error in errors), errors
    assert any("services/gpu-worker/deploy/resources/reservations/devices/0" in error for error in errors), errors


def one_shots(config: dict[str, Any]) -> set[str]:
    return {name for name, service in config["services"].items() if service.get("restart") == "no"}


def test_every_long_running_service_has_a_healthcheck(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    assert set(services) >= {"postgres", "minio", "prefect-server", "deployment", *APP_SERVICES}
    for name, service in services.items():
        if name in one_shots(compose_config):
            continue
        healthcheck = service.get("healthcheck", {})
        assert not healthcheck.get("disable"), name
        test = healthcheck.get("test")
        assert isinstance(test, list), f"{name} has no healthcheck"
        assert test[0] in ("CMD", "CMD-SHELL"), name
        assert service.get("restart") == "unless-stopped", name


def test_dependencies_wait_for_health_or_completion(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    shots = one_shots(compose_config)
    assert shots == {"deployment"}
    for name, service in services.items():
        for dependency, rule in service.get("depends_on", {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            expected = "service_completed_successfully" if dependency in shots else "service_healthy"
            assert rule.get("condition") == expected, f"{name} → {dependency}: {rule}"
    for name in APP_SERVICES:
        needs = set(services[name]["depends_on"])
        assert "prefect-server" in needs, name
        if name != "deployment":
            assert needs >= {"postgres", "minio", "deployment"}, name


def test_gpu_services_reserve_an_nvidia_gpu(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    built_from_worker = {
        name
        for name, service in services.items()
        if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile.worker"
    }
    assert built_from_worker == set(GPU_SERVICES)
    for name in GPU_SERVICES:
        devices = services[name]["deploy"]["resources"]["reservations"]["devices"]
        assert len(devices) == 1, name
        assert devices[0]["driver"] == "nvidia", name
        assert devices[0]["capabilities"] == ["gpu"], name
        assert devices[0]["count"] == "all" or int(devices[0]["count"]) >= 1, name
    for name in set(services) - set(GPU_SERVICES):
        assert "deploy" not in services[name], f"{name} reserves devices"


def test_only_the_api_and_s3_listen_on_every_interface(compose_config: dict[str, Any]) -> None:
    public = set()
    for name, service in compose_config["services"].items():
        for port in service.get("ports", []):
            address, host_port = published(port)
            if address in ("0.0.0.0", "::", ""):
                public.add((name, host_port))
            else:
                assert address == "127.0.0.1", f"{name} publishes {port}"
    assert public == PUBLIC_PORTS
    assert "ports" not in compose_config["services"]["postgres"]


def test_images_are_pinned(compose_config: dict[str, Any]) -> None:
    for name, service in compose_config["services"].items():
        image = service["image"]
        reference = image.rsplit("/", 1)[-1]
        assert ":" in reference or "@sha256:" in image, f"{name}: {image} has no tag"
        tag = reference.split(":", 1)[1]
        assert tag != "latest", f"{name}: {image}"
        assert re.search(r"\d", tag), f"{name}: {image} is not pinned to a version"
    assert compose_config["services"]["prefect-server"]["image"].startswith("prefecthq/prefect:3.8.8-")
    assert compose_config["services"]["minio"]["image"].startswith("minio/minio:RELEASE.")


def test_app_services_get_every_production_setting(
    compose_config: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    services = compose_config["services"]
    postgres = services["postgres"]["environment"]
    minio = services["minio"]
    prefect_port = services["prefect-server"]["command"][services["prefect-server"]["command"].index("--port") + 1]
    seen: dict[str, Settings] = {}
    for name in APP_SERVICES:
        environment = {key: str(value) for key, value in services[name]["environment"].items()}
        missing = [key for key in REQUIRED_APP_ENVIRONMENT if not environment.get(key)]
        assert missing == [], f"{name} lacks {missing}"
        unknown = [
            key
            for key in environment
            if key.startswith("COMMONS_") and key.removeprefix("COMMONS_").lower() not in Settings.model_fields
        ]
        assert unknown == [], f"{name} sets variables no Settings field reads: {unknown}"
        settings = settings_from(environment, monkeypatch)  # production: refuses placeholder secrets
        assert settings.environment == "production"
        if name == "api":
            settings.check_signing_key()  # the API holds the real JWT key
        else:
            with pytest.raises(ValueError, match="COMMONS_SECRET_KEY is not set"):
                settings.check_signing_key()
        database = urlsplit(settings.resolved_database_url)
        assert database.hostname == "postgres"
        assert database.username == postgres["POSTGRES_USER"]
        assert database.password == postgres["POSTGRES_PASSWORD"]
        assert database.path == f"/{postgres['POSTGRES_DB']}"
        s3_host, s3_port = settings.resolved_s3_endpoint.rsplit(":", 1)
        assert s3_host in minio["networks"]["commons"]["aliases"]
        assert (s3_host, int(s3_port)) != ("localhost", 9000)
        assert (settings.s3_access_key, settings.s3_secret_key) == (
            minio["environment"]["MINIO_ROOT_USER"],
            minio["environment"]["MINIO_ROOT_PASSWORD"],
        )
        prefect = urlsplit(settings.resolved_prefect_api_url)
        assert (prefect.hostname, str(prefect.port)) == ("prefect-server", prefect_port)
        assert environment["PREFECT_API_URL"] == settings.resolved_prefect_api_url
        seen[name] = settings
    first = seen["api"].model_dump(exclude={"secret_key"})
    for name, settings in seen.items():
        assert settings.model_dump(exclude={"secret_key"}) == first, f"{name} is configured differently from api"


def test_only_the_api_holds_the_jwt_key(compose_config: dict[str, Any]) -> None:
    """Workers, the tasks they run and the one-shot deployment never sign tokens: they get the database URL and
    S3 keys (to write task rows and outputs), and no COMMONS_SECRET_KEY."""
    services = compose_config["services"]
    holders = {name for name, service in services.items() if "COMMONS_SECRET_KEY" in service.get("environment", {})}
    assert holders == {"api"}
    assert services["api"]["environment"]["COMMONS_SECRET_KEY"]
    for name in set(APP_SERVICES) - {"api"}:
        environment = services[name]["environment"]
        assert {"COMMONS_DATABASE_URL", "COMMONS_S3_ACCESS_KEY", "COMMONS_S3_SECRET_KEY"} <= set(environment), name


def test_the_worker_image_is_an_allowed_image(compose_config: dict[str, Any]) -> None:
    from commons.settings import DEFAULT_ALLOWED_IMAGES

    for name in GPU_SERVICES:
        assert compose_config["services"][name]["image"] in DEFAULT_ALLOWED_IMAGES, name


def test_the_example_env_is_refused_in_production(monkeypatch: pytest.MonkeyPatch) -> None:
    """Shipping .env.example unchanged cannot run: the app refuses its placeholder secrets."""
    example = read_env_file(ENV_EXAMPLE)
    assert example["COMMONS_SECRET_KEY"] == "change-me"
    with pytest.raises(ValueError, match="COMMONS_SECRET_KEY is a placeholder"):
        settings_from({**example, "COMMONS_ENVIRONMENT": "production"}, monkeypatch)


def test_state_lives_in_named_volumes(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    declared = set(compose_config["volumes"])
    mounts: dict[str, dict[str, str]] = {}
    for name, service in services.items():
        mounts[name] = {}
        for volume in service.get("volumes", []):
            if isinstance(volume, dict):
                kind, source, target = volume["type"], volume.get("source", ""), volume["target"]
            else:
                source, target = str(volume).split(":")[:2]
                kind = "bind" if source.startswith(("/", ".")) else "volume"
            if kind == "volume":
                assert source in declared, f"{name} mounts undeclared volume {source}"
                mounts[name][target] = source
    assert mounts["postgres"] == {"/var/lib/postgresql/data": "postgres-data"}
    assert mounts["minio"] == {"/data": "minio-data"}
    for name in ("prefect-server", "api", "gpu-worker", "warm-worker"):
        assert mounts[name], f"{name} keeps no state in a named volume"
    for name in ("api", "gpu-worker", "warm-worker"):
        assert services[name]["environment"]["COMMONS_DATA_DIR"] in mounts[name], name
    # The warm lane's task parameters pass through Prefect's local result storage: shared by both sides.
    shared = services["api"]["environment"]["PREFECT_RESULTS_LOCAL_STORAGE_PATH"]
    assert services["warm-worker"]["environment"]["PREFECT_RESULTS_LOCAL_STORAGE_PATH"] == shared
    assert mounts["api"][shared] == mounts["warm-worker"][shared] == "prefect-results"


def test_prefect_uses_its_own_postgres_database(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    url = urlsplit(services["prefect-server"]["environment"]["PREFECT_API_DATABASE_CONNECTION_URL"])
    assert url.scheme == "postgresql+asyncpg"
    assert url.hostname == "postgres"
    assert url.password == services["postgres"]["environment"]["PREFECT_POSTGRES_PASSWORD"]
    init_mounts = [v for v in services["postgres"]["volumes"] if "docker-entrypoint-initdb.d" in str(v)]
    assert len(init_mounts) == 1
    source = init_mounts[0]["source"] if isinstance(init_mounts[0], dict) else str(init_mounts[0]).split(":")[0]
    script = Path(source).read_text()
    assert f"CREATE ROLE {url.username} LOGIN" in script
    assert f"CREATE DATABASE {url.path.lstrip('/')} OWNER {url.username}" in script
    assert (DEPLOY / "postgres" / "init-prefect-database.sh").stat().st_mode & 0o111


def test_the_batch_lane_is_the_pool_the_api_watches(compose_config: dict[str, Any]) -> None:
    services = compose_config["services"]
    pool = services["api"]["environment"]["COMMONS_WORK_POOL"]
    assert services["deployment"]["command"] == ["python", "-m", "flows.deployment"]
    assert services["deployment"]["environment"]["COMMONS_WORK_POOL"] == pool
    assert services["gpu-worker"]["command"] == ["batch"]
    assert services["gpu-worker"]["environment"]["COMMONS_WORK_POOL"] == pool
    assert services["gpu-worker"]["environment"]["WORKER_LIMIT"] == "1"
    assert services["warm-worker"]["command"] == ["warm"]
    assert int(services["api"]["environment"]["COMMONS_WARM_WORKERS"]) >= 1
