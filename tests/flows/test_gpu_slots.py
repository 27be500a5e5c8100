"""GPU slots on a real Prefect server: exclusive tasks never overlap on one GPU, shareable ones may."""

from __future__ import annotations

import threading
import time
import uuid

import pytest

from commons.errors import DeviceTooSmall
from commons.settings import Settings
from flows.steps.gpu_slots import gpu_slots, hold_slots, slots_needed


def test_slots_needed() -> None:
    assert slots_needed(None, slots_per_device=2) == 2, "no declaration: the whole GPU"
    assert slots_needed({"gpu": {"count": 1}}, slots_per_device=2) == 2
    assert slots_needed({"gpu": {"count": 2}}, slots_per_device=3) == 6
    assert slots_needed({"gpu": {"count": 1, "shareable": True}}, slots_per_device=2) == 1
    assert slots_needed({"gpu": {"count": 2, "shareable": True}}, slots_per_device=2) == 2
    assert slots_needed({"gpu": {"count": 1}}, slots_per_device=1) == 1


def overlapped(settings: Settings, *, name: str, occupy: int, limit: int) -> bool:
    """Two holders of `occupy` slots each, started together, each holding for 1.5 s: did they overlap?"""
    spans: list[tuple[float, float]] = []

    def hold() -> None:
        with hold_slots(
            api_url=settings.resolved_prefect_api_url, name=name, limit=limit, occupy=occupy, wait_seconds=60
        ):
            started = time.monotonic()
            time.sleep(1.5)
            spans.append((started, time.monotonic()))

    threads = [threading.Thread(target=hold) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=90)
    assert len(spans) == 2, "both holders ran"
    (_, first_end), (second_start, _) = sorted(spans)
    return second_start < first_end


def test_exclusive_tasks_take_turns_and_shareable_ones_share(shared_services: Settings) -> None:
    one_gpu_two_slots = 2
    exclusive = slots_needed({"gpu": {"count": 1}}, slots_per_device=2)
    shareable = slots_needed({"gpu": {"count": 1, "shareable": True}}, slots_per_device=2)
    name = f"commons-gpu-test-{uuid.uuid4().hex[:6]}"
    assert not overlapped(shared_services, name=name, occupy=exclusive, limit=one_gpu_two_slots)
    assert overlapped(shared_services, name=name, occupy=shareable, limit=one_gpu_two_slots)


def test_a_task_needing_more_gpus_than_the_host_has_is_refused(shared_services: Settings) -> None:
    with (
        pytest.raises(DeviceTooSmall, match="needs 4 GPU slots; this host has 2"),
        hold_slots(api_url=shared_services.resolved_prefect_api_url, name="x", limit=2, occupy=4, wait_seconds=1),
    ):
        pass


def test_a_cpu_device_takes_no_slot(shared_services: Settings) -> None:
    unreachable = shared_services.model_copy(update={"prefect_api_url": "http://127.0.0.1:9/api"})
    with gpu_slots(settings=unreachable, execution={"gpu": {"count": 8}}, device="cpu"):
        pass  # no call to Prefect was made, or this would fail


@pytest.mark.gpu
def test_a_gpu_task_holds_its_slots_while_it_runs(shared_services: Settings) -> None:
    from prefect.client.orchestration import SyncPrefectClient

    name = f"commons-gpu-test-{uuid.uuid4().hex[:6]}"
    settings = shared_services.model_copy(update={"gpu_limit_name": name, "gpu_slots_per_device": 2})
    with (
        gpu_slots(settings=settings, execution={"gpu": {"count": 1}}, device="cuda"),
        SyncPrefectClient(settings.resolved_prefect_api_url) as client,
    ):
        assert client.read_global_concurrency_limit_by_name(name).active_slots == 2
