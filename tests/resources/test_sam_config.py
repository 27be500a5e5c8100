"""resources.sam.config: configs and parameters are validated with messages that name the field."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from segment_anything import SamAutomaticMaskGenerator

from commons.errors import InvalidInput
from resources.sam.config import (
    AutoParams,
    PromptParams,
    SamInferParams,
    parse_infer_params,
    parse_sam_config,
)

ROOT = Path(__file__).resolve().parents[2]
CUSTOM = {
    "arch": "custom",
    "checkpoint": "w.safetensors",
    "encoder_embed_dim": 64,
    "encoder_depth": 2,
    "encoder_num_heads": 2,
    "encoder_global_attn_indexes": [1],
}


def _error(parse: Any, raw: Any) -> InvalidInput:
    with pytest.raises(InvalidInput) as caught:
        parse(raw)
    return caught.value


def test_importing_config_does_not_import_torch() -> None:
    code = "import sys, resources.sam.config; sys.exit(1 if 'torch' in sys.modules else 0)"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=False).returncode == 0


@pytest.mark.parametrize(
    ("arch", "expected"),
    [
        ("vit_b", (768, 12, 12, (2, 5, 8, 11))),
        ("vit_l", (1024, 24, 16, (5, 11, 17, 23))),
        ("vit_h", (1280, 32, 16, (7, 15, 23, 31))),
    ],
)
def test_standard_archs_resolve_their_encoder(arch: str, expected: tuple[Any, ...]) -> None:
    encoder = parse_sam_config({"arch": arch, "checkpoint": "sam.pth"}).encoder()
    assert (encoder.embed_dim, encoder.depth, encoder.num_heads, encoder.global_attn_indexes) == expected


def test_standard_arch_accepts_matching_encoder_fields() -> None:
    config = parse_sam_config(
        {"arch": "vit_b", "checkpoint": "b.pt", "encoder_depth": 12, "encoder_global_attn_indexes": [2, 5, 8, 11]}
    )
    assert config.encoder().depth == 12


def test_custom_config() -> None:
    encoder = parse_sam_config(CUSTOM).encoder()
    assert (encoder.embed_dim, encoder.depth, encoder.num_heads, encoder.global_attn_indexes) == (64, 2, 2, (1,))


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (
            {"arch": "vit_b", "checkpoint": "b.pth", "encoder_depth": 24},
            "config.encoder_depth: is fixed at 12 for arch 'vit_b' (got 24)",
        ),
        (
            {"arch": "vit_h", "checkpoint": "h.pth", "encoder_global_attn_indexes": [1]},
            "config.encoder_global_attn_indexes: is fixed at [7, 15, 23, 31] for arch 'vit_h' (got [1])",
        ),
        (
            {"arch": "vit_x", "checkpoint": "b.pth"},
            "config.arch: must be 'vit_b', 'vit_l', 'vit_h' or 'custom' (got 'vit_x')",
        ),
        ({"arch": "vit_b"}, "config.checkpoint: is required"),
        ({"arch": "vit_b", "checkpoint": "b.bin"}, "config.checkpoint: must end in .safetensors, .pth or .pt"),
        ({"arch": "vit_b", "checkpoint": "../b.pth"}, "config.checkpoint: must be a plain file name"),
        ({"arch": "vit_b", "checkpoint": "b.pth", "colour": "red"}, "config.colour: is not a known field"),
        ({**CUSTOM, "encoder_num_heads": 3}, "config.encoder_embed_dim: must be a multiple of encoder_num_heads (3)"),
        (
            {**CUSTOM, "encoder_global_attn_indexes": [0, 2]},
            "config.encoder_global_attn_indexes[1]: must be ≥ 0 and < encoder_depth (2) (got 2)",
        ),
        ({**CUSTOM, "encoder_depth": 0}, "config.encoder_depth: must be ≥ 1 (got 0)"),
        ({**CUSTOM, "encoder_embed_dim": 4096}, "config.encoder_embed_dim: must be ≤ 2048 (got 4096)"),
        ({**CUSTOM, "encoder_num_heads": 33}, "config.encoder_num_heads: must be ≤ 32 (got 33)"),
        (
            {k: v for k, v in CUSTOM.items() if k != "encoder_depth"},
            "config.encoder_depth: is required when arch is 'custom'",
        ),
        ({**CUSTOM, "encoder_depth": "2"}, "config.encoder_depth: must be an integer (got '2')"),
    ],
)
def test_invalid_configs(raw: dict[str, Any], message: str) -> None:
    error = _error(parse_sam_config, raw)
    assert message in error.message
    assert error.message.startswith(error.field or "")


def test_auto_params_defaults_are_the_library_defaults() -> None:
    signature = inspect.signature(SamAutomaticMaskGenerator.__init__).parameters
    for name, value in AutoParams().as_kwargs().items():
        assert signature[name].default == value, name
    wanted = set(signature) - {"self", "model", "point_grids", "output_mode"}
    assert set(AutoParams().as_kwargs()) == wanted  # every knob of the library, and only those
    assert set(AutoParams.model_fields) - wanted == {"engine"}  # which engine runs them
    assert AutoParams().engine == "fast"  # parity with the library holds (tests/resources/test_sam_fast.py)


def test_infer_params_defaults() -> None:
    params = parse_infer_params({})
    assert (params.mode, params.outputs, params.prompt, params.seed) == ("auto", ["hard", "blended", "json"], None, 0)
    assert params.auto == AutoParams()


def test_outputs_are_deduplicated_in_order() -> None:
    assert parse_infer_params({"outputs": ["json", "hard", "json"]}).outputs == ["json", "hard"]


def test_params_round_trip_through_json_dump() -> None:
    raw = {"mode": "prompt", "prompt": {"points": [[10, 20, 1]], "boxes": [[0, 0, 5, 6]]}, "outputs": ["json"]}
    params = parse_infer_params(raw)
    assert parse_infer_params(params.model_dump(mode="json")) == params


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"auto": {"points_per_side": -3}}, "params.auto.points_per_side: must be ≥ 1 (got -3)"),
        ({"auto": {"points_per_side": True}}, "params.auto.points_per_side: must be an integer (got True)"),
        ({"auto": {"pred_iou_thresh": 1.5}}, "params.auto.pred_iou_thresh: must be ≤ 1 (got 1.5)"),
        ({"auto": {"stability_score_offset": 0}}, "params.auto.stability_score_offset: must be > 0 (got 0)"),
        ({"auto": {"crop_overlap_ratio": 1}}, "params.auto.crop_overlap_ratio: must be < 1 (got 1)"),
        ({"auto": {"crop_n_layers": 3}}, "params.auto.crop_n_layers: must be ≤ 2 (got 3)"),
        ({"auto": {"points_per_side": 65}}, "params.auto.points_per_side: must be ≤ 64 (got 65)"),
        ({"auto": {"box_nms_thresh": float("nan")}}, "params.auto.box_nms_thresh: must be a finite number"),
        ({"auto": {"point_grids": []}}, "params.auto.point_grids: is not a known field"),
        ({"outputs": []}, "params.outputs: must have at least 1 item(s) (got 0)"),
        ({"outputs": ["png"]}, "params.outputs[0]: must be 'hard', 'blended' or 'json' (got 'png')"),
        ({"mode": "prompt"}, "params.prompt: is required when mode is 'prompt'"),
        ({"prompt": {"points": [[1, 2, 1]]}}, "params.prompt: is only used when mode is 'prompt'"),
        ({"mode": "prompt", "prompt": {}}, "params.prompt.points: give at least one point or one box"),
        ({"mode": "prompt", "prompt": {"points": [[1, 2, 3]]}}, "params.prompt.points[0][2]: must be ≤ 1 (got 3)"),
        (
            {"mode": "prompt", "prompt": {"boxes": [[1, 2, 3, 4], [5, 5, 1, 9]]}},
            "params.prompt.boxes[1]: must be [x0, y0, x1, y1] with x0 < x1 and y0 < y1",
        ),
        (
            {"mode": "prompt", "prompt": {"points": [[1, 1, 1]] * 65}},
            "params.prompt.points: must have at most 64 items",
        ),
        (
            {"mode": "prompt", "prompt": {"points": [[1, 1, 1]], "multimask": "yes"}},
            "params.prompt.multimask: must be true or false (got 'yes')",
        ),
        ({"seed": -1}, "params.seed: must be ≥ 0 (got -1)"),
        ({"mood": "auto"}, "params.mood: is not a known field"),
    ],
)
def test_invalid_params(raw: dict[str, Any], message: str) -> None:
    error = _error(parse_infer_params, raw)
    assert message in error.message
    assert error.field is not None
    assert error.message.startswith(error.field)


def test_several_problems_are_reported_together() -> None:
    error = _error(parse_infer_params, {"auto": {"points_per_side": 0, "points_per_batch": 0}})
    assert error.field == "params.auto.points_per_side"
    assert "params.auto.points_per_batch: must be ≥ 1 (got 0)" in error.message


def test_non_object_is_refused() -> None:
    assert _error(parse_infer_params, ["auto"]).message == "params must be a JSON object (got list)"
    assert _error(parse_sam_config, "vit_b").field == "config"


def test_prompts_inside_the_image_pass() -> None:
    PromptParams(points=[(0, 0, 1), (599.5, 399.5, 0)], boxes=[(0, 0, 600, 400)]).check_inside(600, 400)


@pytest.mark.parametrize(
    ("prompt", "message"),
    [
        (
            PromptParams(points=[(1, 1, 1), (600, 10, 1)]),
            "params.prompt.points[1]: point (x=600, y=10) is outside the 600x400 photo",
        ),
        (PromptParams(points=[(-1, 10, 0)]), "params.prompt.points[0]: point (x=-1, y=10) is outside"),
        (PromptParams(points=[(5, 400, 1)]), "params.prompt.points[0]: point (x=5, y=400) is outside"),
        (
            PromptParams(boxes=[(0, 0, 10, 10), (10, 10, 601, 200)]),
            "params.prompt.boxes[1]: box [10, 10, 601, 200] reaches outside the 600x400 photo",
        ),
        (PromptParams(boxes=[(0, -2, 10, 10)]), "params.prompt.boxes[0]: box [0, -2, 10, 10] reaches outside"),
    ],
)
def test_prompts_outside_the_image(prompt: PromptParams, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        prompt.check_inside(600, 400)
    assert message in caught.value.message
    assert caught.value.message.startswith(caught.value.field or "?")


def test_infer_params_model_is_exported() -> None:
    assert isinstance(parse_infer_params({"seed": 7}), SamInferParams)
