"""The platform's masks equal a direct SamAutomaticMaskGenerator run with the same weights and parameters: exactly
with the `reference` engine, to float rounding (IoU ≥ 0.99, mask by mask) with the default `fast` one."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import numpy as np
import pytest
from pycocotools import mask as mask_utils
from segment_anything import SamAutomaticMaskGenerator
from skimage import data as skdata

from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, build_sam
from tests.api.conftest import AUTO_PARAMS, Published
from tests.conftest import RunningStack


# The masks do not depend on the registry's backend; one stack suffices.
@pytest.mark.parametrize("stack", ["sqlite"], indirect=True)
@pytest.mark.parametrize("engine", ["reference", "default"])
def test_platform_masks_equal_direct_library_run(
    stack: RunningStack, published: Published, coffee_png: bytes, tiny_weights: Path, engine: str
) -> None:
    client = published.provider
    upload = client.upload("coffee.png", coffee_png)
    params = AUTO_PARAMS if engine == "default" else {**AUTO_PARAMS, "auto": {**AUTO_PARAMS["auto"], "engine": engine}}
    submitted = client.submit(resource=published.name, version=1, inputs=[upload["id"]], params=params, lane="batch")
    task = client.wait(submitted["id"])
    assert task["status"] == "succeeded", task["error"]
    assert task["lane"] == "batch"
    run = httpx.get(f"{stack.settings.resolved_prefect_api_url}/flow_runs/{task['flow_run_id']}", timeout=10).json()
    deployment = httpx.get(
        f"{stack.settings.resolved_prefect_api_url}/deployments/{run['deployment_id']}", timeout=10
    ).json()
    assert deployment["name"] == stack.settings.deployment_name, "the batch lane runs the project's deployment"
    url = next(o["url"] for o in task["outputs"] if o["name"] == "coffee/segments.json")
    segments = json.loads(httpx.get(url, timeout=30).content)["segments"]

    sam = build_sam(parse_sam_config(TINY_CONFIG), tiny_weights, device="cpu")
    generator = SamAutomaticMaskGenerator(sam, **AUTO_PARAMS["auto"])
    direct = generator.generate(np.asarray(skdata.coffee()))
    assert len(segments) == len(direct) > 0
    direct_masks = sorted((record["segmentation"] for record in direct), key=lambda m: -int(m.sum()))
    platform_masks = [
        mask_utils.decode({"size": s["mask_rle"]["size"], "counts": s["mask_rle"]["counts"].encode()}).astype(bool)
        for s in segments
    ]
    if engine == "reference":
        for index, (ours, theirs) in enumerate(zip(platform_masks, direct_masks, strict=True)):
            assert np.array_equal(ours, theirs), f"segment {index + 1} differs"
        return
    left = list(platform_masks)  # the default (fast) engine: each library mask has its own twin, IoU ≥ 0.99
    for index, theirs in enumerate(direct_masks):
        ious = [np.logical_and(ours, theirs).sum() / max(1, np.logical_or(ours, theirs).sum()) for ours in left]
        best = int(np.argmax(ious))
        assert ious[best] >= 0.99, f"segment {index + 1} has no twin (best IoU {ious[best]:.4f})"
        left.pop(best)
