"""Box non-maximum suppression as the library runs it: torchvision's batched_nms with one category."""

from __future__ import annotations

import torch
from torchvision.ops.boxes import batched_nms


def keep_by_nms(boxes: torch.Tensor, scores: torch.Tensor, threshold: float) -> torch.Tensor:
    """Indices of the boxes (XYXY) NMS keeps at IoU `threshold`, highest score first."""
    if len(boxes) == 0:
        return torch.zeros(0, dtype=torch.int64)
    categories = torch.zeros(len(boxes), device=boxes.device)
    kept: torch.Tensor = batched_nms(boxes.float(), scores, categories, iou_threshold=threshold)
    return kept
