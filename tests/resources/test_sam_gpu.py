"""The CUDA path: the same weights segment on the GPU, and the masks agree with the CPU run; the fast engine's
encoder there (fused attention, reduced precision where the probe allows, compiled for a warm worker) keeps the
reference engine's masks.

Marked `gpu`: collected everywhere, deselected (not skipped) where torch sees no CUDA device.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from resources.device import select_device
from resources.sam.agreement import worst_mask_iou
from resources.sam.config import AutoParams, parse_sam_config
from resources.sam.fast import generate
from resources.sam.fast.encoder import fast_encoder
from resources.sam.fast.generator import encoder_batch
from resources.sam.infer import segment_auto
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights
from tests.sam_support import tiny_sam

pytestmark = pytest.mark.gpu

PARAMS = AutoParams(
    points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0, engine="reference"
)


def test_cuda_masks_agree_with_cpu(tmp_path: Path) -> None:
    assert select_device() == "cuda"
    config = parse_sam_config(TINY_CONFIG)
    weights = tmp_path / config.checkpoint
    save_random_weights(config, weights, seed=0)
    image = np.asarray(skdata.coffee())
    cpu = segment_auto(build_sam(config, weights, device="cpu"), image, PARAMS)
    gpu_model = build_sam(config, weights, device="cuda")
    assert next(gpu_model.parameters()).device.type == "cuda"
    gpu = segment_auto(gpu_model, image, PARAMS)
    torch.cuda.synchronize()
    assert len(gpu) == len(cpu) > 0
    for ours, theirs in zip(sorted(gpu, key=lambda r: -r["area"]), sorted(cpu, key=lambda r: -r["area"]), strict=True):
        union = np.logical_or(ours["segmentation"], theirs["segmentation"]).sum()
        overlap = np.logical_and(ours["segmentation"], theirs["segmentation"]).sum()
        assert overlap / union > 0.98, "CUDA and CPU masks differ by more than float rounding"


def test_fast_engine_on_cuda_keeps_the_reference_masks(tmp_path: Path) -> None:
    sam = tiny_sam(tmp_path, device="cuda", rel_pos=True)
    encoder = fast_encoder(sam, long_lived=True)  # as in a warm worker: compiled, kept with the model
    assert encoder.acceleration.sdpa and encoder.acceleration.compiled == "inductor"
    assert encoder.acceleration.dtype in (torch.bfloat16, torch.float16, torch.float32)
    assert encoder.precision_iou >= 0.99
    assert fast_encoder(sam) is encoder
    assert 1 <= encoder_batch(sam, 8) <= 8
    image = np.asarray(skdata.coffee())
    reference = segment_auto(sam, image, PARAMS)
    fast = generate(sam, image, PARAMS, encoder=encoder)
    fast_again = generate(sam, image, PARAMS, encoder=encoder)  # the compiled form, warm
    torch.cuda.synchronize()
    assert len(fast) == len(reference) == len(fast_again) > 0
    assert worst_mask_iou(reference, fast) >= 0.99
    assert worst_mask_iou(fast, fast_again) == 1.0
