"""`commons up`: starts every service on 127.0.0.1, stops them all on SIGTERM / Ctrl-C, keeps its data."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from launcher.client import CommonsClient
from tests.conftest import free_port_block

BIN = Path(sys.executable).parent


def launch(data_dir: Path, env: dict[str, str], api_port: int) -> subprocess.Popen[str]:
    """`commons up` in a subprocess, its output (stderr too) in a pipe; it is not up yet when this returns."""
    command = [str(BIN / "commons"), "up", "--data-dir", str(data_dir), "--port", str(api_port)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)


def start(data_dir: Path, env: dict[str, str], api_port: int) -> tuple[subprocess.Popen[str], str]:
    process = launch(data_dir, env, api_port)
    deadline = time.monotonic() + 240
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"commons up exited early:\n{''.join(lines)}")
        lines.append(line)
        if "Press Ctrl-C to stop" in line:
            return process, "".join(lines)
    process.kill()
    raise AssertionError(f"commons up did not come up:\n{''.join(lines)}")


def stop(process: subprocess.Popen[str], signum: int) -> str:
    process.send_signal(signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def development_environment() -> dict[str, str]:
    """This environment with the development secrets: none of the secret settings set."""
    secrets = ("COMMONS_SECRET_KEY", "COMMONS_S3_ACCESS_KEY", "COMMONS_S3_SECRET_KEY", "COMMONS_ENVIRONMENT")
    return {name: value for name, value in os.environ.items() if name not in secrets}


def test_up_refuses_a_public_address_with_the_development_secrets(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    started = time.monotonic()
    refused = subprocess.run(
        [str(BIN / "commons"), "up", "--data-dir", str(data_dir)],
        env={**development_environment(), "COMMONS_HOST": "0.0.0.0"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert time.monotonic() - started < 30, "refused before starting anything"
    assert "refusing to listen on 0.0.0.0 with the development secrets" in refused.stderr
    assert "COMMONS_SECRET_KEY, COMMONS_S3_ACCESS_KEY, COMMONS_S3_SECRET_KEY" in refused.stderr
    assert "object store" not in refused.stdout, "no service was started"
    assert not data_dir.exists()

    only_the_jwt_key = {**development_environment(), "COMMONS_HOST": "0.0.0.0"}
    only_the_jwt_key.update(COMMONS_S3_ACCESS_KEY="ops-access", COMMONS_S3_SECRET_KEY="s3-real-secret-0123456789")
    refused = subprocess.run(
        [str(BIN / "commons"), "up", "--data-dir", str(data_dir)],
        env=only_the_jwt_key,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode == 2
    assert "Set COMMONS_SECRET_KEY to secrets of your own" in refused.stderr, refused.stderr


def test_only_the_api_child_gets_the_jwt_key(tmp_path: Path) -> None:
    from commons.settings import Settings
    from launcher.stack import Stack

    key = "a-real-secret-0123456789abcdefghij"
    stack = Stack(Settings(data_dir=tmp_path, secret_key=key, allowed_images=["ghcr.io/lab/*", "x:1"]))
    assert stack.environment(signs_tokens=True)["COMMONS_SECRET_KEY"] == key
    worker = stack.environment()  # the workers, the deployment, the object store and Prefect server
    assert "COMMONS_SECRET_KEY" not in worker
    assert worker["COMMONS_S3_SECRET_KEY"] and worker["COMMONS_DATABASE_URL"]
    assert Settings(allowed_images=worker["COMMONS_ALLOWED_IMAGES"]).allowed_images == ["ghcr.io/lab/*", "x:1"]


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    s3_port, prefect_port, api_port = free_port_block(), free_port_block(1), free_port_block(1)
    env = {**development_environment(), "COMMONS_S3_PORT": str(s3_port), "COMMONS_PREFECT_PORT": str(prefect_port)}
    data_dir = tmp_path / "data"

    process, output = start(data_dir, env, api_port)
    first_screen = output.splitlines()[:6]
    assert first_screen[0].startswith("WARNING: development secrets in use: COMMONS_SECRET_KEY"), output
    assert "COMMONS_S3_SECRET_KEY" in first_screen[0], output
    assert "secrets       DEVELOPMENT defaults, loopback only" in output, output
    api = f"http://127.0.0.1:{api_port}"
    health = httpx.get(f"{api}/api/v1/health", timeout=10).json()
    assert health["status"] == "ok", health
    client = CommonsClient(api)
    client.sign_up("keeper", "a long password")
    client.sign_in("keeper", "a long password")
    client.create_resource(name="kept", kind="segmenter.sam", title="Kept", visibility="private")
    client.close()
    output = stop(process, signal.SIGTERM)
    assert "stopped." in output
    for port in (s3_port, prefect_port, api_port):
        assert not listening(port), f"port {port} still open after SIGTERM"

    process, _ = start(data_dir, env, api_port)
    client = CommonsClient(api)
    client.sign_in("keeper", "a long password")
    assert client.http.get("/resources/kept").status_code == 200
    client.close()
    stop(process, signal.SIGINT)
    for port in (s3_port, prefect_port, api_port):
        assert not listening(port), f"port {port} still open after Ctrl-C"
