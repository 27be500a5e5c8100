"""Evaluate a classifier on labelled images and predict top-k labels for unlabelled ones.

Images are HxWx3 uint8 RGB arrays; they are preprocessed as at validation time (Resize, ToTensor,
Normalize; no augmentation) with the config's input_size, mean and std. Class indices and names follow
`config.classes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.metrics import confusion_matrix, precision_recall_fscore_support
from torch import nn
from torch.utils.data import DataLoader

from commons.errors import InvalidInput
from commons.image_io import check_rgb_array
from resources.classifier.config import ImageClassifierConfig
from resources.classifier.data import Item, LabelledImages, check_items, make_loader


@torch.inference_mode()
def collect_logits(
    model: nn.Module, loader: DataLoader[tuple[torch.Tensor, int]], *, device: str
) -> tuple[torch.Tensor, torch.Tensor]:
    """Run `model` in eval mode over `loader`: (NxC float32 logits, N int64 labels), both on the CPU.

    The model's train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    logits: list[torch.Tensor] = []
    labels: list[torch.Tensor] = []
    try:
        for images, targets in loader:
            logits.append(model(images.to(device, non_blocking=True)).float().cpu())
            labels.append(targets)
    finally:
        model.train(was_training)
    if not logits:
        return torch.empty(0, 0), torch.empty(0, dtype=torch.int64)
    return torch.cat(logits), torch.cat(labels)


def evaluate(
    model: nn.Module,
    *,
    items: Sequence[Item],
    config: ImageClassifierConfig,
    device: str,
    batch_size: int,
) -> dict[str, Any]:
    """Accuracy, per-class precision/recall/F1/support, the confusion matrix and every prediction.

    Returns ``{"accuracy": float in [0, 1], "right": int, "wrong": int, "count": int,
    "per_class": {name: {"precision", "recall", "f1", "support"}}, "confusion_matrix": CxC list of
    int lists (row = true class, column = predicted), "predictions": [{"index", "true", "predicted",
    "correct", "probabilities": {name: float}}]}`` with `index` the item's position in `items`.
    """
    classes = config.classes
    if not items:
        raise InvalidInput("evaluation needs at least one labelled image", field="items")
    check_items(items, num_classes=len(classes), name="items")
    dataset = LabelledImages(items, config=config)
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, seed=0, device=device)
    logits, labels = collect_logits(model, loader, device=device)
    probabilities = torch.softmax(logits, dim=1).numpy()
    truth = labels.numpy()
    predicted = probabilities.argmax(axis=1)
    indices = list(range(len(classes)))
    precision, recall, f1, support = precision_recall_fscore_support(truth, predicted, labels=indices, zero_division=0)
    right = int((truth == predicted).sum())
    return {
        "accuracy": right / len(items),
        "right": right,
        "wrong": len(items) - right,
        "count": len(items),
        "per_class": {
            name: {
                "precision": float(precision[i]),
                "recall": float(recall[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(classes)
        },
        "confusion_matrix": confusion_matrix(truth, predicted, labels=indices).tolist(),
        "predictions": [
            {
                "index": position,
                "true": classes[int(truth[position])],
                "predicted": classes[int(predicted[position])],
                "correct": bool(truth[position] == predicted[position]),
                "probabilities": {name: float(p) for name, p in zip(classes, row, strict=True)},
            }
            for position, row in enumerate(probabilities)
        ],
    }


def predict(
    model: nn.Module,
    *,
    images: Sequence[np.ndarray],
    config: ImageClassifierConfig,
    device: str,
    top_k: int,
    batch_size: int,
) -> list[list[dict[str, Any]]]:
    """Per image, the min(top_k, C) most probable classes: ``[{"label": name, "probability": float}]``,
    most probable first; probabilities are softmax values in [0, 1] (all C of them sum to 1)."""
    classes = config.classes
    if top_k < 1:
        raise InvalidInput(f"top_k must be ≥ 1 (got {top_k})", field="top_k")
    for index, image in enumerate(images):
        check_rgb_array(image, name=f"images[{index}]")
    if not images:
        return []
    dataset = LabelledImages([(image, -1) for image in images], config=config)
    loader = make_loader(dataset, batch_size=batch_size, shuffle=False, seed=0, device=device)
    logits, _ = collect_logits(model, loader, device=device)
    values, positions = torch.softmax(logits, dim=1).topk(min(top_k, len(classes)), dim=1)
    return [
        [{"label": classes[int(i)], "probability": float(p)} for p, i in zip(row_p, row_i, strict=True)]
        for row_p, row_i in zip(values.tolist(), positions.tolist(), strict=True)
    ]
