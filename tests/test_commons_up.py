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

from api.client import CommonsClient
from tests.conftest import free_port_block

BIN = Path(sys.executable).parent


def start(data_dir: Path, env: dict[str, str], api_port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [str(BIN / "commons"), "up", "--data-dir", str(data_dir), "--port", str(api_port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.monotonic() + 240
    lines: list[str] = []
    assert process.stdout is not None
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            raise AssertionError(f"commons up exited early:\n{''.join(lines)}")
        lines.append(line)
        if "Press Ctrl-C to stop" in line:
            return process
    process.kill()
    raise AssertionError(f"commons up did not come up:\n{''.join(lines)}")


def stop(process: subprocess.Popen[str], signum: int) -> str:
    process.send_signal(signum)
    output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output
    return output


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_up_stops_cleanly_and_keeps_data(tmp_path: Path) -> None:
    s3_port, prefect_port, api_port = free_port_block(), free_port_block(1), free_port_block(1)
    env = {**os.environ, "COMMONS_S3_PORT": str(s3_port), "COMMONS_PREFECT_PORT": str(prefect_port)}
    data_dir = tmp_path / "data"

    process = start(data_dir, env, api_port)
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

    process = start(data_dir, env, api_port)
    client = CommonsClient(api)
    client.sign_in("keeper", "a long password")
    assert client.http.get("/resources/kept").status_code == 200
    client.close()
    stop(process, signal.SIGINT)
    for port in (s3_port, prefect_port, api_port):
        assert not listening(port), f"port {port} still open after Ctrl-C"
