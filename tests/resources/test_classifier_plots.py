"""resources.classifier.tools.plots: training curves and confusion matrices render as readable PNGs."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from commons.errors import InvalidInput
from resources.classifier.tools.plots import TRAIN, VAL, confusion_png, curves_png

HISTORY = [
    {"epoch": 1, "train_loss": 1.1, "train_accuracy": 0.4, "val_loss": 1.3, "val_accuracy": 0.33, "seconds": 1.0},
    {"epoch": 2, "train_loss": 0.6, "train_accuracy": 0.8, "val_loss": 0.9, "val_accuracy": 0.6, "seconds": 1.0},
    {"epoch": 3, "train_loss": 0.2, "train_accuracy": 0.95, "val_loss": 0.4, "val_accuracy": 0.91, "seconds": 1.0},
]


def _open(png: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    assert image.format == "PNG" and image.mode == "RGB"
    return np.asarray(image)


def _has_colour(pixels: np.ndarray, colour: tuple[int, int, int]) -> bool:
    return bool((pixels == np.array(colour, dtype=np.uint8)).all(axis=2).any())


def test_curves_draw_train_and_validation_lines() -> None:
    pixels = _open(curves_png(HISTORY))
    assert pixels.shape == (340, 960, 3)
    assert _has_colour(pixels, TRAIN) and _has_colour(pixels, VAL)
    assert (pixels < 64).all(axis=2).sum() > 500  # axes, ticks and labels in black


def test_curves_without_validation_and_with_one_epoch() -> None:
    pixels = _open(curves_png([{"epoch": 1, "train_loss": 0.5, "train_accuracy": 0.7, "val_loss": None}]))
    assert _has_colour(pixels, TRAIN)
    with pytest.raises(InvalidInput, match="history is empty"):
        curves_png([])


def test_confusion_heatmap_with_counts() -> None:
    matrix = [[20, 3, 2], [1, 24, 0], [0, 5, 20]]
    pixels = _open(confusion_png(matrix, ["brick", "grass", "gravel"]))
    height, width, _ = pixels.shape
    assert 200 < width < 800 and 200 < height < 800
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 20  # shades of the heatmap plus text


def test_confusion_scales_to_many_classes_and_checks_shape() -> None:
    classes = [f"class-{i}" for i in range(200)]
    matrix = np.eye(200, dtype=int).tolist()
    pixels = _open(confusion_png(matrix, classes))
    assert max(pixels.shape[:2]) < 1200
    with pytest.raises(InvalidInput, match="must be 2x2"):
        confusion_png([[1, 2, 3]], ["a", "b"])


def test_curves_mark_the_best_epoch() -> None:
    from resources.classifier.tools.plots import BEST

    plain = _open(curves_png(HISTORY))
    marked = _open(curves_png(HISTORY, best_epoch=2))
    assert not _has_colour(plain, BEST)
    assert _has_colour(marked, BEST)
    columns = np.flatnonzero((marked == np.array(BEST, dtype=np.uint8)).all(axis=2).any(axis=0))
    assert columns.min() < 480 < columns.max(), "both charts, loss (left) and accuracy (right), are marked"
    assert _has_colour(_open(curves_png(HISTORY, best_epoch=9)), BEST) is False, "an epoch not run marks nothing"
