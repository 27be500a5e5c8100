"""On the real stack: a second prompt task on the same photo skips the image encoder (its manifest says so), with the
same masks; a batch-lane task, in a process of its own, finds the embedding in the object store."""

from __future__ import annotations

import io
import json
import uuid
from typing import Any

import httpx
import numpy as np
from PIL import Image

from commons.store import ObjectStore, keys
from flows.steps.embedding_cache import PREFIX
from flows.steps.manifest import Manifest, load_manifest
from tests.api.conftest import Published, task_output
from tests.conftest import RunningStack

# random weights: low predicted IoUs and stability, so no cut-offs, for masks to compare
LOOSE_AUTO = {"points_per_side": 2, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0}
PROMPT = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [[300, 200, 1]], "boxes": [[100, 80, 400, 300]]}}


def run(
    published: Published,
    store: ObjectStore,
    upload_id: str,
    *,
    lane: str = "auto",
    params: dict[str, Any] = PROMPT,
) -> tuple[dict[str, Any], Manifest, bytes]:
    """A prompt task on the upload, finished: the task, its manifest and its segments.json."""
    client = published.provider
    task = client.submit(resource=published.name, version=1, inputs=[upload_id], params=params, lane=lane)
    done = client.wait(task["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    manifest = load_manifest(store=store, key=keys.task_manifest(done["id"]))
    return done, manifest, task_output(done, "coffee/segments.json").content


def unseen(png: bytes) -> bytes:
    """The photo with one pixel changed at random: a photo no earlier test on this stack has had encoded (the
    warm worker outlives tests, and its embeddings with it)."""
    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).copy()
    rng = np.random.default_rng(uuid.uuid4().int % 2**32)
    image[int(rng.integers(image.shape[0])), int(rng.integers(image.shape[1]))] = rng.integers(0, 256, size=3)
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_second_prompt_task_on_the_same_photo_skips_the_encoder(
    stack: RunningStack, published: Published, coffee_png: bytes
) -> None:
    store = ObjectStore.from_settings(stack.settings)
    upload = published.provider.upload("coffee.png", unseen(coffee_png))

    first, first_manifest, first_segments = run(published, store, upload["id"])
    assert first["lane"] == "warm"
    assert first_manifest.embedding == "miss" and first_manifest.timings["embedding_source"] == "encoder"

    second, second_manifest, second_segments = run(published, store, upload["id"])
    assert second["lane"] == "warm"
    assert second_manifest.embedding == "hit" and second_manifest.timings["embedding_source"] == "memory"
    assert second_segments == first_segments, "the same masks, scores and boxes without the encoder"

    assert any(key.endswith(".safetensors") for key in store.list_keys(PREFIX)), "kept for every worker"

    _, batch_manifest, batch_segments = run(published, store, upload["id"], lane="batch")
    assert batch_manifest.embedding == "hit" and batch_manifest.timings["embedding_source"] == "store"
    assert batch_segments == first_segments

    auto = published.provider.submit(
        resource=published.name,
        version=1,
        inputs=[upload["id"]],
        params={"mode": "auto", "outputs": ["json"], "auto": {**LOOSE_AUTO, "engine": "reference"}},
    )
    done = published.provider.wait(auto["id"], timeout=300)
    assert done["status"] == "succeeded", done["error"]
    manifest = httpx.get(done["manifest_url"], timeout=30).json()
    assert "embedding" not in manifest["timings"], "automatic masks are unaffected"
    assert "encoder" not in manifest["timings"], "the reference engine runs the library's encoder"

    fast_params = {"mode": "auto", "outputs": ["json"], "auto": {**LOOSE_AUTO, "engine": "fast"}}
    fast = published.provider.submit(resource=published.name, version=1, inputs=[upload["id"]], params=fast_params)
    fast_done = published.provider.wait(fast["id"], timeout=300)
    assert fast_done["status"] == "succeeded", fast_done["error"]
    fast_manifest = httpx.get(fast_done["manifest_url"], timeout=30).json()
    cpu = {"sdpa": True, "dtype": "float32", "compiled": False, "precision_iou": 1.0}
    assert fast_manifest["timings"]["encoder"] == cpu, "fused attention, float32 and not compiled on the CPU"
    ours = _masks(task_output(fast_done, "coffee/segments.json").content, "mask_rle")
    theirs = _masks(task_output(done, "coffee/segments.json").content, "mask_rle")
    assert len(ours) == len(theirs) > 0
    for mine, reference in zip(ours, theirs, strict=True):
        assert np.logical_and(mine, reference).sum() >= 0.99 * np.logical_or(mine, reference).sum()


def _masks(segments_json: bytes, key: str = "rle") -> list[np.ndarray]:
    """The masks of a segments.json (`rle`: the visible region, `mask_rle`: SAM's whole mask), largest first."""
    from pycocotools import mask as coco_mask

    rles = [segment[key] for segment in json.loads(segments_json)["segments"]]
    masks = [coco_mask.decode({"size": rle["size"], "counts": rle["counts"].encode()}).astype(bool) for rle in rles]
    return sorted(masks, key=lambda mask: -int(mask.sum()))


def _mask(segments_json: bytes) -> np.ndarray:
    masks = _masks(segments_json)
    assert len(masks) == 1
    return masks[0]


def test_the_fast_prompt_engine_keeps_the_reference_mask_and_its_graph_stays_warm(
    stack: RunningStack, published: Published, coffee_png: bytes
) -> None:
    store = ObjectStore.from_settings(stack.settings)
    upload = published.provider.upload("coffee.png", unseen(coffee_png))
    _, reference_manifest, reference_segments = run(published, store, upload["id"])
    assert reference_manifest.timings["prompt_engine"] == "reference"

    fast = {**PROMPT, "prompt": {**PROMPT["prompt"], "engine": "fast"}}  # type: ignore[dict-item]
    first, first_manifest, first_segments = run(published, store, upload["id"], params=fast)
    second, second_manifest, second_segments = run(published, store, upload["id"], params=fast)
    assert first["lane"] == second["lane"] == "warm"
    for manifest in (first_manifest, second_manifest):
        assert manifest.timings["prompt_engine"] == "fast" and manifest.embedding == "hit"
    assert second_manifest.timings["decoder_cache"] == "hit", "the graph is built once per warm worker"
    assert second_segments == first_segments
    ours, theirs = _mask(first_segments), _mask(reference_segments)
    assert np.logical_and(ours, theirs).sum() / np.logical_or(ours, theirs).sum() >= 0.99
