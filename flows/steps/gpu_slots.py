"""Per-GPU concurrency: tasks on one host's GPUs take slots of a Prefect global concurrency limit.

Each GPU has `gpu_slots_per_device` slots (COMMONS_GPU_SLOTS_PER_DEVICE, default 1). A task whose version
declares `gpu.shareable` (the model fits twice) takes one slot per GPU it uses; any other task takes every
slot of each GPU it uses, so it never shares. The limit is named after the host (COMMONS_GPU_LIMIT_NAME,
default `commons-gpu-<hostname>`) and sized `GPUs visible × slots per GPU` by the worker that first needs it.

Slots are leases (Prefect renews them while the work runs): a worker that dies gives its slots back when the
lease runs out instead of holding the GPU forever. On a CPU device nothing is limited.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from commons.settings import Settings

LEASE_SECONDS = 120.0


def slots_needed(execution: dict[str, Any] | None, *, slots_per_device: int) -> int:
    """Slots a task takes: shareable → one per GPU; otherwise all `slots_per_device` of each GPU.

    A version that declares no GPU but runs on one uses one GPU.
    """
    gpu = (execution or {}).get("gpu") or {}
    count = max(int(gpu.get("count", 1) or 1), 1)
    return count if gpu.get("shareable") else count * slots_per_device


def limit_name(settings: Settings) -> str:
    return settings.gpu_limit_name or f"commons-gpu-{socket.gethostname()}"


@contextmanager
def hold_slots(*, api_url: str, name: str, limit: int, occupy: int, wait_seconds: float | None) -> Iterator[None]:
    """Hold `occupy` slots of the global concurrency limit `name` (created with `limit` if missing)."""
    from prefect.client.orchestration import SyncPrefectClient
    from prefect.concurrency.sync import concurrency
    from prefect.exceptions import ObjectAlreadyExists, PrefectHTTPStatusError
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if occupy > limit:
        from commons.errors import DeviceTooSmall

        raise DeviceTooSmall(
            f"the task needs {occupy} GPU slots; this host has {limit} — run it on a work pool with more GPUs"
        )
    with SyncPrefectClient(api_url) as client:
        try:
            client.upsert_global_concurrency_limit_by_name(name=name, limit=limit)
        except (ObjectAlreadyExists, PrefectHTTPStatusError):  # another worker created it a moment ago
            client.upsert_global_concurrency_limit_by_name(name=name, limit=limit)
    with (
        temporary_settings({PREFECT_API_URL: api_url}),
        concurrency(name, occupy=occupy, timeout_seconds=wait_seconds, lease_duration=LEASE_SECONDS, strict=True),
    ):
        yield


@contextmanager
def gpu_slots(*, settings: Settings, execution: dict[str, Any] | None, device: str) -> Iterator[None]:
    """Around a task's work: hold its GPU slots on this host (nothing on a CPU device)."""
    if not device.startswith("cuda"):
        yield
        return
    import torch

    per_device = settings.gpu_slots_per_device
    with hold_slots(
        api_url=settings.resolved_prefect_api_url,
        name=limit_name(settings),
        limit=torch.cuda.device_count() * per_device,
        occupy=slots_needed(execution, slots_per_device=per_device),
        wait_seconds=settings.gpu_wait_seconds,
    ):
        yield
