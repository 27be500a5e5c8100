"""Label Studio, the real one, for the ML backend tests: installed from the package index into an environment of its
own (it pins numpy, OpenCV and PyJWT below the project's) under the user's cache folder once per machine, started on
loopback with a fresh data folder and a known user token, stopped after the session."""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import httpx
import pytest

from tests.api.conftest import tiny_weights  # noqa: F401 - the SAM tests' random weights
from tests.conftest import free_port_block
from tests.tool_env import tool_python

VERSION: Final = "1.23.2"
# Label Studio 1.23.2 calls sentry_sdk.init with an option sentry-sdk 3 removed; pip would pick 3.
PACKAGES: Final = (f"label-studio=={VERSION}", "sentry-sdk==2.76.0")
START_SECONDS: Final = 240  # the first start migrates a new SQLite database (about a minute on a busy machine)


def label_studio_python() -> Path:
    """The Label Studio environment's Python (tests/tool_env.py), made if missing."""
    return tool_python(f"label-studio-{VERSION}", PACKAGES)


@dataclass(frozen=True)
class LabelStudio:
    url: str
    token: str
    python: Path

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Token {self.token}"}, timeout=120)


@pytest.fixture(scope="session")
def label_studio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabelStudio]:
    python = label_studio_python()
    data = tmp_path_factory.mktemp("label-studio")
    port = free_port_block(1)
    token = secrets.token_hex(20)
    command = [str(python), "-m", "label_studio.server", "start", "--no-browser", "--data-dir", str(data)]
    command += ["--internal-host", "127.0.0.1", "-p", str(port), "--username", "admin@example.org"]
    command += ["--password", secrets.token_urlsafe(12), "--user-token", token, "--enable-legacy-api-token"]
    env = {**os.environ, "LABEL_STUDIO_BASE_DATA_DIR": str(data), "SENTRY_DSN": "", "COLLECT_ANALYTICS": "false"}
    # The commons, its ML backend, listens on loopback too: let Label Studio reach it.
    env.update(SSRF_PROTECTION_ENABLED="false", ML_BLOCK_LOCAL_IP="false")
    log = (data / "server.log").open("wb")
    server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:
            if server.poll() is not None:
                raise AssertionError(f"Label Studio exited: {(data / 'server.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            time.sleep(1)
        else:
            raise AssertionError(f"Label Studio did not start in {START_SECONDS} s")
        yield LabelStudio(url=url, token=token, python=python)
    finally:
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
