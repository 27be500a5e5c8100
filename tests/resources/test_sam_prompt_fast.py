"""The `fast` prompt engine (SAM's decoder as an ONNX graph in ONNX Runtime) keeps the masks the `reference`
engine (SamPredictor) keeps, prompt for prompt, including prompts whose `multimask` differs from the graph's rule."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from segment_anything.modeling import Sam
from skimage import data as skdata

from flows.steps.model_cache import model_bytes
from resources.sam import embedding
from resources.sam.config import PromptParams, parse_infer_params, parse_sam_config
from resources.sam.infer import segment_prompt
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights
from resources.sam.onnx_decoder import iou
from resources.sam.prompt_fast import PromptDecoder, segment_prompt_fast

PHOTO = np.ascontiguousarray(np.asarray(skdata.coffee())[::2, ::2])  # 300 x 200
PROMPTS: dict[str, dict[str, Any]] = {
    "one point": {"points": [[150, 100, 1]]},
    "two points": {"points": [[150, 100, 1], [40, 30, 0]]},
    "a box": {"boxes": [[50, 40, 200, 150]]},
    "a box and a point": {"points": [[120, 90, 1]], "boxes": [[50, 40, 200, 150]]},
    "two boxes and a point": {"points": [[120, 90, 1]], "boxes": [[50, 40, 200, 150], [10, 10, 290, 190]]},
    "one point, one mask asked": {"points": [[150, 100, 1]], "multimask": False},
    "two points, three masks asked": {"points": [[150, 100, 1], [40, 30, 0]], "multimask": True},
}


@pytest.fixture(scope="module")
def sam(tmp_path_factory: pytest.TempPathFactory) -> Sam:
    weights = tmp_path_factory.mktemp("sam") / "tiny.safetensors"
    config = parse_sam_config(TINY_CONFIG)
    save_random_weights(config, weights, seed=5)
    return build_sam(config, weights, device="cpu")


@pytest.fixture(scope="module")
def decoder(sam: Sam) -> PromptDecoder:
    return PromptDecoder.build(sam)


@pytest.fixture(scope="module")
def photo_embedding(sam: Sam) -> embedding.ImageEmbedding:
    return embedding.embed(sam, PHOTO)


@pytest.mark.parametrize("prompt", list(PROMPTS.values()), ids=list(PROMPTS))
def test_fast_prompts_keep_the_reference_masks(
    sam: Sam, decoder: PromptDecoder, photo_embedding: embedding.ImageEmbedding, prompt: dict[str, Any]
) -> None:
    params = PromptParams.model_validate({**prompt, "engine": "fast"})
    fast = segment_prompt_fast(decoder, sam, PHOTO, params, embedding=photo_embedding)
    reference = segment_prompt(sam, PHOTO, params, embedding=photo_embedding)
    assert len(fast) == len(reference) == max(1, len(params.boxes))
    for ours, theirs in zip(fast, reference, strict=True):
        assert ours["segmentation"].shape == PHOTO.shape[:2]
        assert iou(ours["segmentation"], theirs["segmentation"]) >= 0.99
        assert ours["predicted_iou"] == pytest.approx(theirs["predicted_iou"], abs=1e-4)
        assert abs(ours["area"] - theirs["area"]) <= 0.01 * max(theirs["area"], 1)
        assert ours["crop_box"] == theirs["crop_box"] and ours["point_coords"] == theirs["point_coords"]


def test_the_graph_was_checked_and_the_cache_counts_its_bytes(decoder: PromptDecoder) -> None:
    assert 0.99 <= decoder.worst_iou <= 1.0
    assert model_bytes(decoder) == decoder.cache_bytes > 1_000_000  # the graph carries the decoder's weights


def test_a_prompt_outside_the_photo_is_refused_as_by_the_reference(
    sam: Sam, decoder: PromptDecoder, photo_embedding: embedding.ImageEmbedding
) -> None:
    params = PromptParams.model_validate({"points": [[400, 10, 1]], "engine": "fast"})
    with pytest.raises(Exception, match=r"params\.prompt\.points\[0\]: point \(x=400, y=10\) is outside"):
        segment_prompt_fast(decoder, sam, PHOTO, params, embedding=photo_embedding)


def test_the_engine_is_a_prompt_parameter_and_nothing_else_is_accepted() -> None:
    parsed = parse_infer_params({"mode": "prompt", "prompt": {"points": [[1, 1, 1]], "engine": "fast"}})
    assert parsed.prompt is not None and parsed.prompt.engine == "fast"
    assert parse_infer_params({"mode": "prompt", "prompt": {"points": [[1, 1, 1]]}}).prompt.engine == "reference"  # type: ignore[union-attr]
    with pytest.raises(Exception, match=r"params\.prompt\.engine"):
        parse_infer_params({"mode": "prompt", "prompt": {"points": [[1, 1, 1]], "engine": "turbo"}})
