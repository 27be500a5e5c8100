"""Fault isolation in `commons up`: one child killed (for memory, say) costs that child's work, not the commons.

`commons up` runs in a subprocess with its own ports and data folder, as a person starts it. Killing the API
with SIGKILL brings the API back while the other services keep their processes; killing the warm worker
while a task runs fails that task with the reason, restarts the worker, and the task queued behind it still
runs. A child that keeps dying is given up on while the others run on. Ctrl-C still stops everything.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from commons.settings import Settings
from launcher.client import CommonsClient
from launcher.stack import Stack
from launcher.supervisor import Supervisor
from resources.sam.model import TINY_CONFIG
from tests.api.conftest import AUTO_PARAMS
from tests.conftest import free_port_block
from tests.test_commons_up import development_environment, launch, listening

# Thousands of prompt points: a task that keeps the warm worker busy for many seconds.
SLOW = {"mode": "auto", "auto": {"points_per_side": 48, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}}
CHILDREN = {"s3": "weed", "prefect-server": "prefect server", "worker": "prefect worker", "warm": "flows.warm_lane"}


@dataclass
class Up:
    """A running `commons up` and everything it printed so far."""

    process: subprocess.Popen[str]
    api: str
    ports: list[int]
    lines: list[str] = field(default_factory=list)

    def output(self) -> str:
        return "".join(self.lines)

    def wait_for_line(self, text: str, *, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = next((line for line in list(self.lines) if text in line), None)
            if found is not None:
                return found
            assert self.process.poll() is None, f"commons up exited:\n{self.output()}"
            time.sleep(0.1)
        raise AssertionError(f"no line with {text!r} within {timeout:.0f} s:\n{self.output()}")

    def children(self) -> dict[str, int]:
        """Its direct children by role: pid (from /proc)."""
        found: dict[str, int] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, IndexError, ValueError):
                stat = (entry / "stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) != self.process.pid:
                    continue
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
                role = next((name for name, marker in CHILDREN.items() if marker in command), None)
                role = role or ("api" if "uvicorn" in command else None)
                if role is not None:
                    found[role] = int(entry.name)
        return found

    def healthy(self) -> bool:
        try:
            return httpx.get(f"{self.api}/api/v1/health", timeout=3).status_code == 200
        except httpx.HTTPError:
            return False


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Up]:
    s3_port, prefect_port, api_port = free_port_block(), free_port_block(1), free_port_block(1)
    env = {
        **development_environment(),
        "COMMONS_S3_PORT": str(s3_port),
        "COMMONS_PREFECT_PORT": str(prefect_port),
        "COMMONS_WARM_WORKERS": "1",
        "COMMONS_RESTART_DELAY_SECONDS": "1",
        "COMMONS_SIGN_UP_RATE_LIMIT": "1000/minute",
        "COMMONS_SIGN_IN_RATE_LIMIT": "1000/minute",
    }
    data_dir = tmp_path_factory.mktemp("fault-isolation") / "data"
    process = launch(data_dir, env, api_port)
    running = Up(process=process, api=f"http://127.0.0.1:{api_port}", ports=[s3_port, prefect_port, api_port])

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            running.lines.append(line)

    threading.Thread(target=read, daemon=True).start()
    try:
        running.wait_for_line("Press Ctrl-C to stop", timeout=240)
        yield running
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_until(check: Any, *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} within {timeout:.0f} s")


def test_a_killed_api_comes_back_alone(up: Up) -> None:
    before = up.children()
    assert set(before) == {"s3", "prefect-server", "worker", "warm", "api"}, before
    os.kill(before["api"], signal.SIGKILL)
    killed_at = time.monotonic()
    line = up.wait_for_line(f"api (pid {before['api']}) was killed (signal 9, likely out of memory)", timeout=10)
    assert "restarting it in 1 s" in line, line
    wait_until(up.healthy, timeout=90, what="the API did not answer again")
    print(f"API killed → answering again after {time.monotonic() - killed_at:.1f} s")
    after = up.children()
    assert after["api"] != before["api"], "a new API process"
    assert {k: v for k, v in after.items() if k != "api"} == {k: v for k, v in before.items() if k != "api"}, (
        "no other service restarted"
    )
    assert f"restarted api (pid {after['api']})" in up.output()


def test_a_warm_worker_killed_mid_task_fails_only_that_task(up: Up, tiny_weights: Path, coffee_png: bytes) -> None:
    client = CommonsClient(up.api)
    name = f"u{uuid.uuid4().hex[:10]}"
    client.sign_up(name, "correct horse battery")
    client.sign_in(name, "correct horse battery")
    resource = f"sam-{uuid.uuid4().hex[:8]}"
    client.create_resource(name=resource, kind="segmenter.sam", title="Tiny SAM")
    client.upload_version(resource, files=[tiny_weights], config=TINY_CONFIG)
    photo = client.upload("coffee.png", coffee_png)["id"]
    doomed = client.submit(resource=resource, version=1, inputs=[photo], params=SLOW, lane="warm")
    wait_until(lambda: client.task(doomed["id"])["status"] == "running", timeout=120, what="the task never ran")
    # The worker's one slot is busy: it takes this one in and holds it, waiting (it dies with the worker).
    queued = client.submit(resource=resource, version=1, inputs=[photo], params=AUTO_PARAMS, lane="warm")
    assert doomed["lane"] == queued["lane"] == "warm"
    wait_until(
        lambda: any(s["name"] == "infer" and s["status"] == "running" for s in client.task(doomed["id"])["steps"]),
        timeout=120,
        what="the slow task never reached its infer step",
    )
    before = up.children()
    os.kill(before["warm"], signal.SIGKILL)  # as the kernel's OOM killer does
    killed_at = time.monotonic()

    ended = client.wait(doomed["id"], timeout=30)
    took = time.monotonic() - killed_at
    print(f"warm worker killed → task {ended['status']} after {took:.1f} s")
    assert ended["status"] == "failed", ended
    assert "the worker running it was killed (signal 9, likely out of memory)" in (ended["error"] or ""), ended
    assert took < 15, "failed at once, not after the heartbeat timeout"
    assert ended["outputs"] == [] and ended["manifest_url"] is None
    up.wait_for_line(f"warm-worker-0 was running task(s) {doomed['id']}", timeout=10)

    restarted = up.wait_for_line("restarted warm-worker-0", timeout=30)
    done = client.wait(queued["id"], timeout=180)  # taken in by the dead worker, resubmitted, run by the new one
    assert done["status"] == "succeeded", done
    after = up.children()
    assert f"(pid {after.get('warm')})" in restarted, (restarted, after)
    assert after.get("warm") not in (None, before["warm"]), f"the warm worker was restarted: {after}\n{up.output()}"
    assert {k: v for k, v in after.items() if k != "warm"} == {k: v for k, v in before.items() if k != "warm"}
    client.close()


def test_ctrl_c_still_stops_every_child(up: Up) -> None:
    children = up.children()
    up.process.send_signal(signal.SIGINT)
    assert up.process.wait(timeout=60) == 0, up.output()
    for port in up.ports:
        assert not listening(port), f"port {port} still open after Ctrl-C"
    for pid in children.values():
        wait_until(lambda pid=pid: not Path(f"/proc/{pid}").exists() or _zombie(pid), timeout=10, what=f"{pid} lived")


def _zombie(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1].startswith("Z")
    return True


def test_a_child_that_keeps_dying_is_given_up_while_the_others_run(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, restart_delay_seconds=0.05, restart_max_delay_seconds=0.2, restart_limit=3)
    stack = Stack(settings)
    steady = stack._spawn("steady", [sys.executable, "-c", "import time; time.sleep(60)"])
    stack._spawn("flaky", [sys.executable, "-c", "raise SystemExit(3)"])
    said: list[str] = []
    supervisor = Supervisor(stack, say=said.append)
    try:
        deadline = time.monotonic() + 30
        while "flaky" not in supervisor.given_up() and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.05)
        assert supervisor.given_up() == ["flaky"], said
        restarts = [line for line in said if line.startswith("restarted flaky")]
        assert len(restarts) == 2, said
        assert said[0].startswith("flaky (pid ") and "exited with code 3; restarting it in 0.05 s" in said[0], said
        assert "it died 3 times within 60 s, so it is not restarted again" in said[-1], said
        for _ in range(5):
            supervisor.check()
        assert steady.process.poll() is None and stack.children[0] is steady, "the steady child kept its process"
    finally:
        stack.stop(timeout=5)
