"""A test kind, `hosts.sleeper`, for the worker-host tests: a task that takes as long as it is told and says
which host ran it, so a test can cut that host's link while it runs.

- infer (one upload, warm lane allowed): works `params.seconds`, reporting progress, and writes `ran.json`;
- edit (no inputs, batch lane): the same, then publishes `sleeper.bin` as a new version of the resource.

`ran.json` holds the address this host reaches the Prefect server from: the worker host's own address on the
test network (tests/hosts/netns.py). Registered with `COMMONS_EXTRA_KINDS=["tests.hosts.sleeper_kind"]`.
"""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from commons.settings import get_settings
from flows.kinds.spec import Inputs, KindSpec, ModeSpec, ParamsRequest, always
from flows.steps.prepare import Prepared
from flows.steps.records import VersionProduct
from flows.steps.reporting import Reporter
from registry.vocabulary import Mode
from resources.schema import parse_model

NAME = "hosts.sleeper"


class SleeperConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="sleeper", max_length=40)


class SleeperParams(BaseModel):
    model_config = ConfigDict(extra="forbid")
    seconds: float = Field(default=0.0, ge=0.0, le=120.0, description="How long the work step takes.")


def parse_config(raw: Mapping[str, Any]) -> SleeperConfig:
    return parse_model(SleeperConfig, raw, prefix="config")


def _params(request: ParamsRequest) -> BaseModel:
    return parse_model(SleeperParams, request.raw, prefix="params")


def host_address() -> str:
    """The address this process reaches the Prefect server from (no packet is sent: a UDP connect)."""
    server = urlsplit(get_settings().resolved_prefect_api_url).hostname or "127.0.0.1"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((server, 9))
        return str(probe.getsockname()[0])


def _work(prepared: Prepared, report: Reporter) -> Path:
    """Sleep `seconds` in small steps, reporting progress (so a cancelled task stops); write ran.json. The
    outputs folder is made first: while it exists under a host's data folder, the task runs on that host."""
    seconds = parse_model(SleeperParams, prepared.params, prefix="params").seconds
    prepared.outputs.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        time.sleep(min(0.25, seconds - elapsed))
        report.progress(min(1.0, (time.monotonic() - started) / seconds))
    path = prepared.outputs / "ran.json"
    path.write_text(json.dumps({"address": host_address(), "seconds": seconds}))
    return path


def infer(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    return [_work(prepared, report)]


def edit(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    ran = _work(prepared, report)
    weights = prepared.outputs / "sleeper.bin"
    weights.write_bytes(f"made by task {prepared.task_id}".encode())
    prepared.product = VersionProduct(
        weights=weights, config=prepared.config, reported_metrics={}, dataset=None, split=None, publish_as=None
    )
    return [ran, weights]


KIND = KindSpec(
    name=NAME,
    parse_config=parse_config,
    modes={
        Mode.INFER: ModeSpec(infer, _params, Inputs.UPLOADS, max_inputs=1, warm=True),
        Mode.EDIT: ModeSpec(edit, _params, Inputs.NONE, publishes=always, stores=True),
    },
)
