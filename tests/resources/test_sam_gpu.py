"""The CUDA path: the same weights segment on the GPU, and the masks agree with the CPU run.

Marked `gpu`: collected everywhere, deselected (not skipped) where torch sees no CUDA device.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from skimage import data as skdata

from resources.device import select_device
from resources.sam.config import AutoParams, parse_sam_config
from resources.sam.infer import segment_auto
from resources.sam.model import TINY_CONFIG, build_sam, save_random_weights

pytestmark = pytest.mark.gpu

PARAMS = AutoParams(points_per_side=4, pred_iou_thresh=0.0, stability_score_thresh=0.0, box_nms_thresh=1.0)


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
