"""SAM image embeddings kept so that a prompt task on a photo seen before skips the image encoder.

Two levels, both keyed by `resources.sam.embedding.cache_key` (version digest, photo sha256, device class,
dtype, SAM input size):

1. Memory: in a warm worker (where the model cache is on, flows/steps/model_cache.py), an LRU of embeddings
   bounded by bytes (`COMMONS_EMBEDDING_CACHE_BYTES`). Off in a per-run process (the batch lane), as the model
   cache is: such a process serves one task and ends.
2. The object store, `cache/embeddings/<key>.safetensors`, read by every worker. A blob that does not read back
   as an embedding of the model's shape for this photo (corrupt, truncated, larger than one embedding can be)
   is a miss, logged, and replaced; an unreachable store is a miss too. Neither ever fails the task.

A hit primes a `SamPredictor` with the embedding (`resources.sam.embedding.predictor_for`); a miss runs the
encoder once (`resources.sam.embedding.embed`) and keeps the result at both levels.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Literal

from commons.errors import CommonsError, NotFound
from commons.settings import get_settings
from commons.store import ObjectStore
from flows.steps import model_cache
from flows.steps.prepare import Stopwatch

if TYPE_CHECKING:
    import numpy as np
    from segment_anything.modeling import Sam

    from resources.sam.embedding import ImageEmbedding

log = logging.getLogger(__name__)
PREFIX: Final = "cache/embeddings/"
HEADER_ROOM: Final = 64 * 1024  # a stored embedding is its float32 tensor plus a small safetensors header
_HEX_KEY = re.compile(r"[0-9a-f]{64}")
Source = Literal["memory", "store", "encoder"]


def object_key(key: str) -> str:
    """Where the object store keeps the embedding of cache key `key` (a sha256 hex digest, never a path)."""
    if not _HEX_KEY.fullmatch(key):
        raise ValueError(f"not an embedding cache key: {key!r}")
    return f"{PREFIX}{key}.safetensors"


def embedding_bytes(embedding: ImageEmbedding) -> int:
    return embedding.features.numel() * embedding.features.element_size()


@dataclass(frozen=True)
class Lookup:
    """How a photo's embedding was found: `hit` (memory or store) or computed by the encoder (a miss)."""

    key: str
    source: Source
    seconds: float  # finding it, or computing and storing it

    @property
    def hit(self) -> bool:
        return self.source != "encoder"


class EmbeddingMemory:
    """LRU of embeddings by cache key, at most `max_bytes` of features in total (thread-safe)."""

    def __init__(self, *, max_bytes: int) -> None:
        if max_bytes <= 0:
            raise ValueError(f"max_bytes must be positive, got {max_bytes}")
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, ImageEmbedding] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.evictions = 0

    def get(self, key: str) -> ImageEmbedding | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: str, embedding: ImageEmbedding) -> None:
        """Keep `embedding` (one larger than `max_bytes` is not kept), evicting least-recently-used ones."""
        size = embedding_bytes(embedding)
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= embedding_bytes(old)
            self._entries[key] = embedding
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, evicted = self._entries.popitem(last=False)
                self._bytes -= embedding_bytes(evicted)
                self.evictions += 1

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)


_memory: EmbeddingMemory | None = None
_memory_lock = threading.Lock()
_loading: dict[str, threading.Lock] = {}  # a lock per key being found or computed in this process
_loading_lock = threading.Lock()


def process_memory() -> EmbeddingMemory | None:
    """This process's level 1: on in a warm worker (the model cache is on), made at first use; else None."""
    global _memory
    if model_cache.active() is None:
        return None
    with _memory_lock:
        if _memory is None:
            _memory = EmbeddingMemory(max_bytes=get_settings().embedding_cache_bytes)
        return _memory


def forget_process_memory() -> None:
    """Drop this process's level 1 (a fresh worker's memory)."""
    global _memory
    with _memory_lock:
        _memory = None


class EmbeddingCache:
    """Both levels for one model on one device; `store` None or `memory` None turns that level off."""

    def __init__(self, *, store: ObjectStore | None, memory: EmbeddingMemory | None) -> None:
        self.store = store
        self.memory = memory

    def embedding(
        self, sam: Sam, image: np.ndarray, *, version_digest: str, photo_sha256: str, device: str
    ) -> tuple[ImageEmbedding, Lookup]:
        """The photo's embedding under `sam`, from memory, the store or the encoder (then kept at both levels).

        Concurrent requests for the same key in this process run the encoder once."""
        watch = Stopwatch()
        key = key_for(sam, version_digest=version_digest, photo_sha256=photo_sha256, device=device)
        with _loading_lock:
            key_lock = _loading.setdefault(key, threading.Lock())
        try:
            with key_lock:
                found, source = self._find_or_embed(key, sam, image)
        finally:
            with _loading_lock:
                _loading.pop(key, None)
        return found, Lookup(key, source, watch.seconds())

    def _find_or_embed(self, key: str, sam: Sam, image: np.ndarray) -> tuple[ImageEmbedding, Source]:
        found = self.memory.get(key) if self.memory is not None else None
        if found is not None:
            return found, "memory"
        found = self._read_store(key, sam, image)
        source: Source = "store"
        if found is None:
            from resources.sam.embedding import embed

            found, source = embed(sam, image), "encoder"
            self._write_store(key, found)
        if self.memory is not None:
            self.memory.put(key, found)
        return found, source

    def _read_store(self, key: str, sam: Sam, image: np.ndarray) -> ImageEmbedding | None:
        if self.store is None:
            return None
        from resources.sam.embedding import from_bytes

        where = object_key(key)
        try:
            data = self.store.get_bytes(where)
        except NotFound:
            return None
        except CommonsError as error:  # the store is unavailable: compute it here instead
            log.warning("embedding cache: could not read %s (%s); running the encoder", where, error)
            return None
        limit = expected_bytes(sam) + HEADER_ROOM
        try:
            if len(data) > limit:
                raise ValueError(f"{len(data)} bytes, more than one embedding's {limit}")
            embedding = from_bytes(data)
            check_fits(embedding, sam, image)
        except (CommonsError, ValueError) as error:
            log.warning("embedding cache: %s is unusable (%s); running the encoder and replacing it", where, error)
            return None
        return embedding

    def _write_store(self, key: str, embedding: ImageEmbedding) -> None:
        if self.store is None:
            return
        from resources.sam.embedding import to_bytes

        where = object_key(key)
        try:
            self.store.put_bytes(key=where, data=to_bytes(embedding))
        except CommonsError as error:  # the task goes on: the next one runs the encoder again
            log.warning("embedding cache: could not write %s (%s)", where, error)


def key_for(sam: Sam, *, version_digest: str, photo_sha256: str, device: str) -> str:
    """`cache_key` of a photo under `sam` on `device` ("cpu", "cuda:0", "mps", …: its class is what counts)."""
    from resources.sam.embedding import cache_key

    dtype = str(next(sam.image_encoder.parameters()).dtype).removeprefix("torch.")
    return cache_key(
        version_digest=version_digest,
        photo_sha256=photo_sha256,
        device_class=device.split(":", 1)[0],
        dtype=dtype,
        input_size=int(sam.image_encoder.img_size),
    )


def expected_shape(sam: Sam) -> tuple[int, int, int, int]:
    """The encoder's output for one photo: 1 x C x H' x W'."""
    height, width = sam.prompt_encoder.image_embedding_size
    return 1, int(sam.prompt_encoder.embed_dim), int(height), int(width)


def expected_bytes(sam: Sam) -> int:
    batch, channels, height, width = expected_shape(sam)
    return batch * channels * height * width * 4  # float32


def check_fits(embedding: ImageEmbedding, sam: Sam, image: np.ndarray) -> None:
    """ValueError unless `embedding` is what `sam`'s encoder makes of `image` (shape and sizes)."""
    from segment_anything.utils.transforms import ResizeLongestSide

    shape = tuple(embedding.features.shape)
    if shape != expected_shape(sam):
        raise ValueError(f"features of shape {shape}, the model makes {expected_shape(sam)}")
    height, width = int(image.shape[0]), int(image.shape[1])
    if embedding.original_size != (height, width):
        raise ValueError(f"made for a {embedding.original_size} photo, this one is {(height, width)}")
    size = int(sam.image_encoder.img_size)
    resized = ResizeLongestSide.get_preprocess_shape(height, width, size)
    if embedding.input_size != resized:
        raise ValueError(f"input size {embedding.input_size}, the model resizes this photo to {resized}")


def task_cache() -> EmbeddingCache:
    """The cache a task uses: this process's memory (warm workers) and the object store of the settings."""
    return EmbeddingCache(store=ObjectStore.from_settings(get_settings()), memory=process_memory())
