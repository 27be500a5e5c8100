"""Fixtures for tests against the running stack: a published SAM resource with random weights, photos."""

from __future__ import annotations

import io
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from skimage import data as skdata

from launcher.client import CommonsClient
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import RunningStack

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
