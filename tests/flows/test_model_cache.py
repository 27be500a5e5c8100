"""The warm workers' model cache: LRU by bytes, one load per key under concurrency, GPU room made first."""

from __future__ import annotations

import threading
import time

import pytest
import torch
from torch import nn

from flows.steps import model_cache
from flows.steps.model_cache import ModelCache, cached_model, model_bytes


def linear(inputs: int) -> nn.Linear:
    return nn.Linear(inputs, 10)  # (inputs × 10 + 10) float32 parameters


def test_model_bytes_counts_parameters_and_buffers() -> None:
    assert model_bytes(linear(100)) == (100 * 10 + 10) * 4
    norm = nn.BatchNorm1d(8)  # weight, bias + running_mean, running_var (float32) + num_batches_tracked (int64)
    assert model_bytes(norm) == 4 * 8 * 4 + 8
    assert model_bytes(object()) == 0


def test_hit_miss_and_least_recently_used_eviction_by_bytes() -> None:
    size = model_bytes(linear(100))
    cache = ModelCache(max_bytes=2 * size + 1)
    loads: list[str] = []

    def load(name: str) -> nn.Linear:
        loads.append(name)
        return linear(100)

    a, hit = cache.get_or_load(digest="a", device="cpu", load=lambda: load("a"))
    assert not hit
    assert cache.get_or_load(digest="a", device="cpu", load=lambda: load("a")) == (a, True)
    cache.get_or_load(digest="b", device="cpu", load=lambda: load("b"))
    cache.get_or_load(digest="a", device="cpu", load=lambda: load("a"))  # a is now the most recent
    cache.get_or_load(digest="c", device="cpu", load=lambda: load("c"))  # over budget: b goes
    assert loads == ["a", "b", "c"]
    assert cache.get_or_load(digest="a", device="cpu", load=lambda: load("a"))[1], "a was kept"
    assert not cache.get_or_load(digest="b", device="cpu", load=lambda: load("b"))[1], "b was evicted"
    stats = cache.stats()
    assert stats.entries == 2 and stats.bytes <= cache.max_bytes
    assert (stats.hits, stats.misses, stats.evictions) == (3, 4, 2)


def test_the_same_digest_on_another_device_is_another_entry() -> None:
    cache = ModelCache(max_bytes=10**9)
    cache.get_or_load(digest="a", device="cpu", load=lambda: linear(4))
    assert not cache.get_or_load(digest="a", device="cpu:1", load=lambda: linear(4))[1]


def test_a_model_larger_than_the_budget_is_used_but_not_kept() -> None:
    cache = ModelCache(max_bytes=100)
    model, hit = cache.get_or_load(digest="big", device="cpu", load=lambda: linear(1000))
    assert isinstance(model, nn.Linear) and not hit
    assert cache.stats().entries == 0


def test_concurrent_requests_for_one_model_load_it_once() -> None:
    cache = ModelCache(max_bytes=10**9)
    calls: list[int] = []

    def slow_load() -> nn.Linear:
        calls.append(1)
        time.sleep(0.2)
        return linear(8)

    results: list[tuple[nn.Linear, bool]] = []
    threads = [
        threading.Thread(target=lambda: results.append(cache.get_or_load(digest="x", device="cpu", load=slow_load)))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len({id(model) for model, _ in results}) == 1
    assert sorted(hit for _, hit in results) == [False, True, True, True]


def test_cached_model_is_off_outside_warm_workers() -> None:
    model_cache.disable()
    timings: dict[str, object] = {}
    first = cached_model(digest="d", device="cpu", load=lambda: linear(2), timings=timings)
    assert timings["model_cache"] == "off"
    assert cached_model(digest="d", device="cpu", load=lambda: linear(2), timings=timings) is not first
    model_cache.enable(max_bytes=10**6)
    try:
        first = cached_model(digest="d", device="cpu", load=lambda: linear(2), timings=timings)
        assert timings["model_cache"] == "miss"
        assert cached_model(digest="d", device="cpu", load=lambda: linear(2), timings=timings) is first
        assert timings["model_cache"] == "hit"
    finally:
        model_cache.disable()


def test_bad_budget_is_refused() -> None:
    with pytest.raises(ValueError, match="max_bytes must be positive"):
        ModelCache(max_bytes=0)


@pytest.mark.gpu
def test_loading_onto_a_full_gpu_evicts_cached_models_first() -> None:
    free, _ = torch.cuda.mem_get_info()
    cache = ModelCache(max_bytes=10**13)
    cache.get_or_load(digest="resident", device="cuda", load=lambda: nn.Linear(4096, 4096).cuda())
    # Ask for more room than is free now: the resident model must go before the next load.
    cache.get_or_load(digest="next", device="cuda", load=lambda: nn.Linear(16, 16).cuda(), expected_bytes=int(free))
    assert cache.stats().evictions == 1
    assert not cache.get_or_load(digest="resident", device="cuda", load=lambda: nn.Linear(4, 4).cuda())[1]
