"""Fixtures for tests against the running stack: a published SAM resource with random weights, photos; the
helpers the API tests share (a task's output file, a refusal's status and message, a small CNN config)."""

from __future__ import annotations

import io
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from launcher.client import ApiError, CommonsClient
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import RunningStack
from tests.resources.test_blocks_spec import FLAT, conv, linear, pool

# Random weights score every mask low and make near-duplicates; these settings keep all 48 masks (16 points ×
# 3 multimask outputs), overlapping, which exercises the label map's partition and the RLE of visible regions.
AUTO_PARAMS: dict[str, Any] = {
    "mode": "auto",
    "auto": {"points_per_side": 4, "pred_iou_thresh": 0.0, "stability_score_thresh": 0.0, "box_nms_thresh": 1.0},
}


def png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def task_output(task: dict[str, Any], name: str) -> httpx.Response:
    """The output file `name` of a finished task, fetched from the URL the task lists for it."""
    match = next(o for o in task["outputs"] if o["name"] == name)
    response = httpx.get(match["url"], timeout=30)
    response.raise_for_status()
    return response


def status_of(call: Callable[[], object]) -> tuple[int, str]:
    """The status code and the message of the ApiError that `call` must raise."""
    with pytest.raises(ApiError) as refused:
        call()
    return refused.value.status_code, str(refused.value)


def digits_cnn(*, channels: int, classes: int, size: int = 16) -> dict[str, Any]:
    """A classifier.blocks config for `size`x`size` grey digits: one 3x3 convolution of `channels` channels,
    ReLU, a 2x2 max-pool, and a linear layer to `classes` outputs."""
    blocks = [conv(1, channels, 3, padding=1), {"type": "ReLU"}, pool(2), FLAT]
    return {
        "input_channels": 1,
        "input_size": size,
        "init_seed": 1,
        "blocks": [*blocks, linear(channels * (size // 2) ** 2, classes)],
    }


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("weights") / TINY_CONFIG["checkpoint"]
    save_random_weights(parse_sam_config(TINY_CONFIG), path, seed=0)
    return path


@pytest.fixture(scope="session")
def coffee_png() -> bytes:
    return png_bytes(np.asarray(skdata.coffee()))


@dataclass
class Published:
    provider: CommonsClient
    name: str
    version: dict[str, Any]


def publish(stack: RunningStack, weights: Path, *, visibility: str = "private") -> Published:
    provider = stack.new_user()
    name = f"sam-{uuid.uuid4().hex[:8]}"
    provider.create_resource(
        name=name, kind="segmenter.sam", title="Tiny SAM", visibility=visibility, citation="Kirillov et al. 2023"
    )
    version = provider.upload_version(name, files=[weights], config=TINY_CONFIG)
    return Published(provider=provider, name=name, version=version)


@pytest.fixture
def published(stack: RunningStack, tiny_weights: Path) -> Published:
    return publish(stack, tiny_weights)
