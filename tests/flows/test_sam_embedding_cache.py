"""The SAM image embedding cache: memory in warm workers, the object store for every worker, a prompt task that
skips the encoder on a photo seen before, with the same masks; a broken stored blob is a miss, and replaced.

Real services: the session's S3 server (SeaweedFS) and a migrated SQLite registry for the task row a runner
reports to. A tiny SAM with random weights.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from segment_anything.modeling import Sam
from skimage import data as skdata

from commons.db import session_scope
from commons.settings import Settings, get_settings
from commons.store import ObjectStore
from flows.kinds.sam.infer import infer_sam
from flows.steps import embedding_cache, model_cache
from flows.steps.cache import CachedFile
from flows.steps.embedding_cache import EmbeddingCache, EmbeddingMemory, embedding_bytes, object_key
from flows.steps.prepare import InputFile, Prepared
from flows.steps.records import ResourceRecord
from flows.steps.reporting import Reporter
from registry.migrate import upgrade
from resources.sam.config import PromptParams, parse_sam_config
from resources.sam.embedding import ImageEmbedding, embed, from_bytes, to_bytes
from resources.sam.infer import segment_prompt
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights
from tests.api.conftest import png_bytes
from tests.factories import pending_task

PROMPT = PromptParams(points=[(60, 40, 1), (10, 10, 0)], boxes=[(20, 15, 120, 80)], multimask=True)
PROMPT_PARAMS = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [[60, 40, 1]], "multimask": True}}


@pytest.fixture(scope="module")
def weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sam") / TINY_CONFIG["checkpoint"]
    save_random_weights(parse_sam_config(TINY_CONFIG), path, seed=0)
    return path


@pytest.fixture(scope="module")
def sam(weights: Path) -> Sam:
    return build_sam(parse_sam_config(TINY_CONFIG), weights, device="cpu")


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return np.ascontiguousarray(np.asarray(skdata.coffee())[::4, ::4])  # 150 x 100


def fresh_digest() -> str:
    """A version digest no other test used, so that its embeddings start absent from the shared store."""
    return f"sha256:{uuid.uuid4().hex}"


def lookup(cache: EmbeddingCache, sam: Sam, photo: np.ndarray, digest: str) -> tuple[ImageEmbedding, str]:
    found, how = cache.embedding(sam, photo, version_digest=digest, photo_sha256="ab" * 32, device="cpu")
    return found, how.source


def masks(records: list[dict[str, Any]]) -> list[bytes]:
    return [np.packbits(record["segmentation"]).tobytes() for record in records]


def test_first_lookup_runs_the_encoder_then_memory_then_store_with_the_same_masks(
    sam: Sam, photo: np.ndarray, store: ObjectStore
) -> None:
    digest = fresh_digest()
    worker = EmbeddingCache(store=store, memory=EmbeddingMemory(max_bytes=1 << 30))
    first, source = lookup(worker, sam, photo, digest)
    assert source == "encoder"
    again, source = lookup(worker, sam, photo, digest)
    assert source == "memory" and again is first
    other_worker = EmbeddingCache(store=store, memory=EmbeddingMemory(max_bytes=1 << 30))
    stored, source = lookup(other_worker, sam, photo, digest)
    assert source == "store"
    assert torch_equal(stored, first) and stored.original_size == (100, 150)
    assert lookup(other_worker, sam, photo, digest)[1] == "memory", "a store hit is kept in memory"

    reference = segment_prompt(sam, photo, PROMPT)  # the encoder run by SamPredictor.set_image
    for embedding in (first, stored):
        records = segment_prompt(sam, photo, PROMPT, embedding=embedding)
        assert masks(records) == masks(reference)
        assert [r["predicted_iou"] for r in records] == [r["predicted_iou"] for r in reference]


def torch_equal(a: ImageEmbedding, b: ImageEmbedding) -> bool:
    return bool((a.features == b.features).all()) and a.input_size == b.input_size


def test_the_key_separates_versions_and_photos(sam: Sam, photo: np.ndarray, store: ObjectStore) -> None:
    cache = EmbeddingCache(store=store, memory=EmbeddingMemory(max_bytes=1 << 30))
    digest = fresh_digest()
    assert lookup(cache, sam, photo, digest)[1] == "encoder"
    assert lookup(cache, sam, photo, fresh_digest())[1] == "encoder", "another version's weights"
    _, other = cache.embedding(sam, photo, version_digest=digest, photo_sha256="cd" * 32, device="cpu")
    assert other.source == "encoder", "another photo"
    _, gpu = cache.embedding(sam, photo, version_digest=digest, photo_sha256="ab" * 32, device="cuda:1")
    assert gpu.source == "encoder", "another device class"
    _, cpu = cache.embedding(sam, photo, version_digest=digest, photo_sha256="ab" * 32, device="cpu")
    assert cpu.source == "memory"


def broken_blobs(good: bytes, other_photo: bytes) -> dict[str, bytes]:
    return {
        "not safetensors": b"\x00garbage" * 10,
        "truncated": good[: len(good) // 2],
        "another photo's embedding": other_photo,
        "larger than an embedding": good + b"\x00" * (len(good) + 1),
    }


@pytest.mark.parametrize("damage", ["not safetensors", "truncated", "another photo's embedding", "larger"])
def test_an_unusable_stored_blob_is_a_miss_and_is_replaced(
    sam: Sam, photo: np.ndarray, store: ObjectStore, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    digest = fresh_digest()
    batch = EmbeddingCache(store=store, memory=None)  # a per-run process: the store alone
    good, _ = lookup(batch, sam, photo, digest)
    key = object_key(embedding_cache.key_for(sam, version_digest=digest, photo_sha256="ab" * 32, device="cpu"))
    other = to_bytes(embed(sam, np.ascontiguousarray(photo[:, :120])))
    blobs = broken_blobs(store.get_bytes(key), other)
    store.put_bytes(key=key, data=next(blob for name, blob in blobs.items() if name.startswith(damage)))

    found, source = lookup(batch, sam, photo, digest)
    assert source == "encoder" and torch_equal(found, good)
    assert "unusable" in caplog.text and key in caplog.text
    assert torch_equal(from_bytes(store.get_bytes(key)), good), "the broken blob was replaced"
    assert lookup(batch, sam, photo, digest)[1] == "store"


def test_a_store_that_refuses_is_a_miss_not_a_failure(
    sam: Sam, photo: np.ndarray, s3_settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    refusing = ObjectStore.from_settings(s3_settings.model_copy(update={"s3_secret_key": "not-the-secret"}))
    cache = EmbeddingCache(store=refusing, memory=EmbeddingMemory(max_bytes=1 << 30))
    found, source = lookup(cache, sam, photo, fresh_digest())
    assert source == "encoder" and found.original_size == (100, 150)
    assert "could not read" in caplog.text and "could not write" in caplog.text
    assert lookup(cache, sam, photo, fresh_digest())[1] == "encoder"


def test_memory_is_bounded_by_bytes_least_recently_used_first(sam: Sam, photo: np.ndarray) -> None:
    one = embed(sam, photo)
    memory = EmbeddingMemory(max_bytes=2 * embedding_bytes(one))
    for key in ("a", "b"):
        memory.put(key, one)
    assert memory.get("a") is one  # a is now the most recent
    memory.put("c", one)
    assert memory.get("b") is None and memory.get("a") is one and memory.get("c") is one
    assert (len(memory), memory.bytes, memory.evictions) == (2, 2 * embedding_bytes(one), 1)
    EmbeddingMemory(max_bytes=10).put("big", one)  # larger than the budget: used, not kept
    with pytest.raises(ValueError, match="positive"):
        EmbeddingMemory(max_bytes=0)


def test_a_mismatched_embedding_is_refused_in_plain_words(sam: Sam, photo: np.ndarray) -> None:
    from commons.errors import InvalidInput

    other = embed(sam, np.ascontiguousarray(photo[:, :120]))
    with pytest.raises(InvalidInput, match="made for a 120x100 photo, not this 150x100 one"):
        segment_prompt(sam, photo, PROMPT, embedding=other)


# The prompt path of the infer step, as a warm worker and a batch process run it.


@pytest.fixture
def store_settings(s3_settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Settings]:
    """The process's settings (`get_settings`) name the session's S3 server, as a worker's environment does."""
    monkeypatch.setenv("COMMONS_S3_ENDPOINT", s3_settings.resolved_s3_endpoint)
    monkeypatch.setenv("COMMONS_S3_BUCKET", s3_settings.s3_bucket)
    get_settings.cache_clear()
    yield get_settings()
    get_settings.cache_clear()


@pytest.fixture
def warm_worker() -> Iterator[None]:
    """This process as a warm worker: the model cache on, its embedding memory empty."""
    model_cache.enable(max_bytes=1 << 30)
    embedding_cache.forget_process_memory()
    yield
    model_cache.disable()
    embedding_cache.forget_process_memory()


@pytest.fixture
def database(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'registry.db'}"
    upgrade(url)
    return url


def run_infer(
    tmp_path: Path, database: str, weights: Path, photo_png: Path, digest: str, params: dict[str, Any]
) -> Prepared:
    """The infer step of a new task on `photo_png` (the task row is real: the runner reports progress to it)."""
    with session_scope(database) as session:
        task_id = pending_task(session, owner_name=f"u{uuid.uuid4().hex[:8]}").id
    data = photo_png.read_bytes()
    photo_file = CachedFile(path=photo_png, sha256=hashlib.sha256(data).hexdigest(), size=len(data), hit=True)
    weights_file = CachedFile(path=weights, sha256="0" * 64, size=weights.stat().st_size, hit=True)
    prepared = Prepared(
        task_id=task_id,
        mode="infer",
        kind="segmenter.sam",
        resource=ResourceRecord(
            id="r", name="sam", kind="segmenter.sam", version=1, digest=digest, reported_metrics=None, execution=None
        ),
        config=dict(TINY_CONFIG),
        params=params,
        seed=0,
        device="cpu",
        weights={TINY_CONFIG["checkpoint"]: weights_file},
        inputs=[InputFile(upload_id="u", name="coffee.png", stem="coffee", file=photo_file)],
        environment={},
        work_dir=tmp_path / task_id,
        submitted_by="someone",
        flow_run_id=None,
        task_run_id=None,
    )
    infer_sam(prepared, max_image_pixels=10**8, report=Reporter(database_url=database, task_id=task_id))
    return prepared


def segments(prepared: Prepared) -> bytes:
    """The task's segments.json: every mask (RLE), its box, area and scores."""
    return (prepared.outputs / "coffee" / "segments.json").read_bytes()


@pytest.mark.usefixtures("store_settings", "warm_worker")
def test_prompt_tasks_on_a_warm_worker_miss_then_hit_with_the_same_segments(
    tmp_path: Path, database: str, weights: Path, photo: np.ndarray
) -> None:
    photo_png = tmp_path / "coffee.png"
    photo_png.write_bytes(png_bytes(photo))
    digest = fresh_digest()
    first = run_infer(tmp_path, database, weights, photo_png, digest, PROMPT_PARAMS)
    second = run_infer(tmp_path, database, weights, photo_png, digest, PROMPT_PARAMS)
    assert (first.timings["embedding"], first.timings["embedding_source"]) == ("miss", "encoder")
    assert (second.timings["embedding"], second.timings["embedding_source"]) == ("hit", "memory")
    assert second.timings["embedding_per_image"] == ["memory"] and len(second.timings["embedding_s"]) == 1
    assert segments(second) == segments(first)

    embedding_cache.forget_process_memory()  # another warm worker, or this one restarted
    third = run_infer(tmp_path, database, weights, photo_png, digest, PROMPT_PARAMS)
    assert (third.timings["embedding"], third.timings["embedding_source"]) == ("hit", "store")
    assert segments(third) == segments(first)

    auto = {"mode": "auto", "outputs": ["json"], "auto": {"points_per_side": 2}}
    automatic = run_infer(tmp_path, database, weights, photo_png, digest, auto)
    assert "embedding" not in automatic.timings, "automatic masks use no embedding cache"


@pytest.mark.usefixtures("store_settings")
def test_a_batch_process_keeps_no_memory_but_uses_the_store(
    tmp_path: Path, database: str, weights: Path, photo: np.ndarray
) -> None:
    assert model_cache.active() is None and embedding_cache.process_memory() is None
    photo_png = tmp_path / "coffee.png"
    photo_png.write_bytes(png_bytes(photo))
    digest = fresh_digest()
    first = run_infer(tmp_path, database, weights, photo_png, digest, PROMPT_PARAMS)
    second = run_infer(tmp_path, database, weights, photo_png, digest, PROMPT_PARAMS)
    assert [first.timings["embedding_source"], second.timings["embedding_source"]] == ["encoder", "store"]
    assert first.timings["model_cache"] == "off"
