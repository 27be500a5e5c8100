"""The init step's device check against a version's declared GPU needs."""

from __future__ import annotations

import pytest

from commons.errors import DeviceTooSmall
from flows.steps.environment import check_device_fits


def test_no_gpu_request_needs_no_note() -> None:
    assert check_device_fits(None, "cpu") is None
    assert check_device_fits({"image": "worker:1"}, "cpu") is None
    assert check_device_fits({"gpu": {"count": 0}}, "cpu") is None


def test_a_cpu_worker_runs_a_gpu_version_and_says_so() -> None:
    note = check_device_fits({"gpu": {"count": 2, "min_memory_gb": 24}}, "cpu")
    assert note is not None and "2 GPU(s)" in note and "cpu" in note


@pytest.mark.gpu
def test_a_gpu_smaller_than_declared_is_refused() -> None:
    assert check_device_fits({"gpu": {"count": 1, "min_memory_gb": 1}}, "cuda") is None
    with pytest.raises(DeviceTooSmall, match="at least 100000 GB"):
        check_device_fits({"gpu": {"count": 1, "min_memory_gb": 100000}}, "cuda")
