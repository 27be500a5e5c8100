"""Loaded models kept by the long-lived warm workers: an LRU bounded by bytes and aware of GPU memory.

A warm worker (flows/warm_lane.py) turns the cache on at start; the runners ask it for a model by the
version's digest and device. In a per-run process (the batch lane) it is off and every call loads.

Bytes of a model = every parameter and buffer (numel × element size), on whichever device they live.
Before loading onto a CUDA device the cache evicts least-recently-used models until the device has room
for the new one (`torch.cuda.mem_get_info`), so a worker never holds models it cannot use at once.
"""

from __future__ import annotations

import gc
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
ModelT = TypeVar("ModelT")
GPU_HEADROOM = 1.25  # room asked for on the device: the model plus a quarter for activations


def model_bytes(model: Any) -> int:
    """Bytes held by a torch module's parameters and buffers, or what an object says of itself (`cache_bytes`:
    an ONNX Runtime graph's size, resources/sam/prompt_fast.py), else 0."""
    declared = getattr(model, "cache_bytes", None)
    if isinstance(declared, int):
        return declared
    parameters = getattr(model, "parameters", None)
    buffers = getattr(model, "buffers", None)
    if parameters is None or buffers is None:
        return 0
    return sum(t.numel() * t.element_size() for t in (*parameters(), *buffers()))


@dataclass
class _Entry:
    model: Any
    size: int
    device: str


@dataclass(frozen=True)
class CacheStats:
    hits: int
    misses: int
    evictions: int
    entries: int
    bytes: int


class ModelCache:
    """LRU of loaded models keyed by (version digest, device), at most `max_bytes` in total."""

    def __init__(self, *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[tuple[str, str], _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple[str, str], threading.Lock] = {}
        self.hits = self.misses = self.evictions = 0

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(
                self.hits, self.misses, self.evictions, len(self._entries), sum(e.size for e in self._entries.values())
            )

    def get_or_load(
        self, *, digest: str, device: str, load: Callable[[], ModelT], expected_bytes: int = 0
    ) -> tuple[ModelT, bool]:
        """The cached model, or `load()`'s result (then kept); returns (model, was it a hit).

        `expected_bytes` (e.g. the weights files' size) is the room a CUDA device must have before loading.
        Concurrent requests for the same key load it once; a model larger than `max_bytes` is used and not kept.
        """
        key = (digest, device)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry.model, True
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                entry = self._entries.get(key)
                if entry is not None:  # loaded by a concurrent request while this one waited
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return entry.model, True
            if device.startswith("cuda"):
                self._make_room_on(device, expected_bytes)
            model = load()
            size = model_bytes(model)
            with self._lock:
                self.misses += 1
                self._loading.pop(key, None)
                if size <= self.max_bytes:
                    self._entries[key] = _Entry(model=model, size=size, device=device)
                    self._evict_over_budget()
            return model, False

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
        self._release_memory()

    def _evict_over_budget(self) -> None:
        """With the lock held: drop least-recently-used entries until the total fits `max_bytes`."""
        while sum(e.size for e in self._entries.values()) > self.max_bytes and len(self._entries) > 1:
            (digest, device), entry = self._entries.popitem(last=False)
            self.evictions += 1
            log.info("model cache: evicted %s on %s (%d bytes)", digest, device, entry.size)

    def _make_room_on(self, device: str, expected_bytes: int) -> None:
        """Evict LRU models on `device` until its free memory holds `expected_bytes` × headroom (or, unknown,
        the largest model cached there)."""
        import torch

        with self._lock:
            on_device = [key for key, e in self._entries.items() if e.device == device]
            largest = max((self._entries[key].size for key in on_device), default=0)
            wanted = (expected_bytes or largest) * GPU_HEADROOM
        free, _total = torch.cuda.mem_get_info(torch.device(device))
        while on_device and free < wanted:
            with self._lock:
                entry = self._entries.pop(on_device.pop(0), None)
                if entry is not None:
                    self.evictions += 1
            del entry
            self._release_memory()
            free, _total = torch.cuda.mem_get_info(torch.device(device))

    @staticmethod
    def _release_memory() -> None:
        gc.collect()
        try:
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()
        except ImportError:  # pragma: no cover - torch is a dependency
            pass


_active: ModelCache | None = None


def enable(*, max_bytes: int) -> ModelCache:
    """Turn the process-wide cache on (warm workers); returns it."""
    global _active
    _active = ModelCache(max_bytes=max_bytes)
    return _active


def disable() -> None:
    global _active
    if _active is not None:
        _active.clear()
    _active = None


def active() -> ModelCache | None:
    return _active


def cached_model(
    *, digest: str, device: str, load: Callable[[], ModelT], timings: dict[str, Any], expected_bytes: int = 0
) -> ModelT:
    """`load()` through the process's cache when one is on; records `model_cache` hit/miss/off in `timings`."""
    cache = _active
    if cache is None:
        timings["model_cache"] = "off"
        return load()
    model, hit = cache.get_or_load(digest=digest, device=device, load=load, expected_bytes=expected_bytes)
    timings["model_cache"] = "hit" if hit else "miss"
    return model
