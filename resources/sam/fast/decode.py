"""The image encoder over several crops at once, and SAM's decoder over a batch of point prompts.

Both take the library's inputs (`SamPredictor.set_image` / `predict_torch`); the encoder is the library's
module with fused attention (`encoder`), the decoder `decoder.decode_masks` (the library's weights, reassociated
products), so the logits are the ones `SamAutomaticMaskGenerator` sees up to float rounding.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from segment_anything.modeling import Sam
from segment_anything.utils.transforms import ResizeLongestSide

from resources.sam.fast.decoder import decode_masks
from resources.sam.fast.encoder import FastEncoder, fast_encoder


def resizer(sam: Sam) -> ResizeLongestSide:
    return ResizeLongestSide(sam.image_encoder.img_size)


def embed(
    sam: Sam, crops: Sequence[np.ndarray], encoder: FastEncoder | None = None
) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Image embeddings (n, C, h, w) float32 of HxWx3 uint8 RGB `crops`, in one encoder batch, and each crop's
    (height, width) after the resize to SAM's input size. `encoder`: the model's fast encoder (default: its
    `fast_encoder`, uncompiled)."""
    transform = resizer(sam)
    inputs, sizes = [], []
    for crop in crops:
        if sam.image_format != "RGB":
            crop = crop[..., ::-1]
        resized = torch.as_tensor(transform.apply_image(crop), device=sam.device).permute(2, 0, 1).contiguous()
        sizes.append((int(resized.shape[1]), int(resized.shape[2])))
        inputs.append(sam.preprocess(resized[None]))
    features = (encoder or fast_encoder(sam))(torch.cat(inputs))
    return features, sizes


def decode_low_res(
    sam: Sam, features: torch.Tensor, points: np.ndarray, crop_size: tuple[int, int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """SAM's three masks per point prompt at the decoder's resolution: logits (3n, 1, 256, 256) and predicted
    IoUs (3n,), prompt by prompt. `points` (n, 2) are x, y pixels of a crop of `crop_size` (height, width)."""
    coords = torch.as_tensor(resizer(sam).apply_coords(points, crop_size), device=sam.device)
    labels = torch.ones(coords.shape[0], dtype=torch.int, device=sam.device)
    sparse, dense = sam.prompt_encoder(points=(coords[:, None, :], labels[:, None]), boxes=None, masks=None)
    low_res, iou = decode_masks(sam, features, sparse, dense[:1])
    return low_res.flatten(0, 1)[:, None], iou.flatten(0, 1)


def upscale(sam: Sam, low_res: torch.Tensor, input_size: tuple[int, int], crop_size: tuple[int, int]) -> torch.Tensor:
    """Logits (k, h, w) at the crop's resolution, as `Sam.postprocess_masks` gives them."""
    if len(low_res) == 0:
        return torch.zeros(0, *crop_size, device=low_res.device)
    upscaled: torch.Tensor = sam.postprocess_masks(low_res, input_size, crop_size)
    return upscaled[:, 0]
