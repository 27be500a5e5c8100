"""The `commons` command's user management, against a real database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from sqlmodel import Session, select

from commons.db import get_engine
from commons.settings import Settings
from registry.models import User

COMMONS = str(Path(sys.executable).parent / "commons")


def create_user(data_dir: Path, username: str, password: str, *options: str) -> subprocess.CompletedProcess[str]:
    """`commons user create` on the database under `data_dir`, its output captured."""
    command = [COMMONS, "user", "create", username, *options, "--password", password, "--data-dir", str(data_dir)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_user_create_admin(tmp_path: Path) -> None:
    result = create_user(tmp_path, "root-admin", "a long password", "--admin")
    assert result.returncode == 0, result.stderr
    assert "created admin user root-admin" in result.stdout
    with Session(get_engine(f"sqlite:///{tmp_path.resolve() / 'commons.db'}")) as session:
        user = session.exec(select(User).where(User.username == "root-admin")).one()
        assert user.is_admin
        assert user.password_hash.startswith("$argon2")

    again = create_user(tmp_path, "root-admin", "a long password")
    assert again.returncode != 0
    assert "taken" in again.stdout + again.stderr
    short = create_user(tmp_path, "shorty", "short")
    assert short.returncode != 0
    assert "at least 8 characters" in short.stdout + short.stderr


def test_serve_runs_uvicorn_with_the_limits_of_commons_up(tmp_path: Path, s3_settings: Settings) -> None:
    """The API image and the Helm chart run `commons serve`: the same uvicorn options as `commons up` (no
    proxy headers of uvicorn's own, bounded headers, connections and keep-alive), in uvicorn's own process."""
    import os
    import time

    import httpx

    from tests.conftest import free_port_block

    port = free_port_block(1)
    env = {
        **os.environ,
        "COMMONS_DATA_DIR": str(tmp_path),
        "COMMONS_S3_ENDPOINT": str(s3_settings.s3_endpoint),
        "COMMONS_S3_ACCESS_KEY": s3_settings.s3_access_key,
        "COMMONS_S3_SECRET_KEY": s3_settings.s3_secret_key,
        "COMMONS_S3_BUCKET": s3_settings.s3_bucket,
        "COMMONS_API_MAX_CONNECTIONS": "77",
        "COMMONS_API_KEEP_ALIVE_SECONDS": "3",
    }
    subprocess.run([COMMONS, "migrate", "--data-dir", str(tmp_path)], check=True, env=env, capture_output=True)
    served = subprocess.Popen(
        [COMMONS, "serve", "--host", "127.0.0.1", "--port", str(port)], env=env, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/openapi.json", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if served.poll() is not None or time.monotonic() > deadline:
                output = served.stderr.read() if served.stderr else b""
                raise AssertionError(f"commons serve did not answer: {output!r}")
            time.sleep(0.3)
        argv = Path(f"/proc/{served.pid}/cmdline").read_bytes().split(b"\0")
        assert b"--no-proxy-headers" in argv and b"h11" in argv
        assert argv[argv.index(b"--limit-concurrency") + 1] == b"77"
        assert argv[argv.index(b"--timeout-keep-alive") + 1] == b"3"
    finally:
        served.terminate()
        served.wait(timeout=30)
