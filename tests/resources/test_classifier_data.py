"""resources.classifier.data: preprocessing, seeded augmentation, stratified split, loaders.

Also holds the sample data the other classifier tests use: scikit-learn's handwritten digits
(8x8 grey, upscaled to RGB) and 32x32 crops of scikit-image's brick, grass and gravel photos.
"""

from __future__ import annotations

from collections import Counter
from functools import cache

import numpy as np
import pytest
import torch
from PIL import Image
from skimage import data as skdata
from sklearn.datasets import load_digits

from commons.errors import InvalidInput
from resources.classifier.config import ClassifierConfig, parse_classifier_config
from resources.classifier.data import Item, LabelledImages, check_items, make_loader, split_indices

TEXTURES = ("brick", "grass", "gravel")


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    bunch = load_digits()
    return bunch.images, bunch.target


def digit_items(classes: int, per_class: int, *, skip: int = 0, size: int = 32) -> list[Item]:
    """The first `per_class` digits 0..classes-1 after skipping `skip` of each, as size x size RGB uint8."""
    images, targets = _digits()
    seen: Counter[int] = Counter()
    items: list[Item] = []
    for image, target in zip(images, targets, strict=True):
        label = int(target)
        if label >= classes or seen[label] >= skip + per_class:
            continue
        seen[label] += 1
        if seen[label] > skip:
            grey = Image.fromarray((image * 255 / 16).astype(np.uint8)).resize((size, size), Image.Resampling.BILINEAR)
            items.append((np.asarray(grey.convert("RGB")), label))
    return items


def texture_items(per_class: int, *, seed: int = 0) -> list[Item]:
    """`per_class` distinct random 32x32 crops (on a 32-pixel grid) of each of brick, grass and gravel."""
    rng = np.random.default_rng(seed)
    items: list[Item] = []
    for label, name in enumerate(TEXTURES):
        photo = getattr(skdata, name)()
        for cell in rng.choice(16 * 16, per_class, replace=False):
            y, x = divmod(int(cell), 16)
            crop = photo[y * 32 : (y + 1) * 32, x * 32 : (x + 1) * 32]
            items.append((np.repeat(crop[:, :, None], 3, axis=2), label))
    return items


def small_config(classes: int = 3, **extra: object) -> ClassifierConfig:
    return parse_classifier_config({"arch": "resnet18", "classes": [f"c{i}" for i in range(classes)], **extra})


def test_sample_data_shapes() -> None:
    digits = digit_items(3, 4)
    textures = texture_items(2)
    assert Counter(label for _, label in digits) == {0: 4, 1: 4, 2: 4}
    later = digit_items(3, 4, skip=4)
    assert not any(np.array_equal(a, b) for (a, _), (b, _) in zip(digits, later, strict=True))
    for image, _ in digits + textures:
        assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert Counter(label for _, label in textures) == {0: 2, 1: 2, 2: 2}


def test_split_is_stratified_deterministic_and_sorted() -> None:
    labels = [0] * 10 + [1] * 5 + [2] * 2 + [3] * 1 + [0] * 3
    train, val = split_indices(labels, val_fraction=0.25, seed=3)
    assert train == sorted(train) and val == sorted(val)
    assert sorted(train + val) == list(range(len(labels)))
    val_counts = Counter(labels[i] for i in val)
    train_counts = Counter(labels[i] for i in train)
    assert val_counts == {0: 3, 1: 1, 2: 1}  # round(13 * 0.25), round(5 * 0.25), at least one of two
    assert train_counts == {0: 10, 1: 4, 2: 1, 3: 1}  # a single item stays in training
    assert split_indices(labels, val_fraction=0.25, seed=3) == (train, val)
    assert split_indices(labels, val_fraction=0.25, seed=4) != (train, val)


def test_split_keeps_one_item_each_side_at_extreme_fractions() -> None:
    labels = [0, 0, 1, 1, 1]
    for fraction in (0.01, 0.99):
        train, val = split_indices(labels, val_fraction=fraction, seed=0)
        assert {labels[i] for i in train} == {0, 1} == {labels[i] for i in val}
    with pytest.raises(InvalidInput, match="val_fraction"):
        split_indices(labels, val_fraction=1.0, seed=0)


def test_preprocessing_resizes_and_normalises() -> None:
    config = small_config(input_size=40, mean=[0.5, 0.25, 0.0], std=[0.5, 0.25, 1.0])
    white = np.full((10, 20, 3), 255, dtype=np.uint8)
    tensor, label = LabelledImages([(white, 2)], config=config)[0]
    assert tensor.shape == (3, 40, 40) and tensor.dtype == torch.float32 and label == 2
    assert torch.allclose(tensor[:, 0, 0], torch.tensor([1.0, 3.0, 1.0]))


def _top_row_image() -> np.ndarray:
    image = np.zeros((32, 32, 3), dtype=np.uint8)
    image[:4, :16] = 255  # bright only in the top-left corner
    return image


def _over_epochs(dataset: LabelledImages, epochs: int = 16) -> list[torch.Tensor]:
    tensors = []
    for epoch in range(epochs):
        dataset.set_epoch(epoch)
        tensors.append(dataset[0][0])
    return tensors


def test_augmentation_is_seeded_per_epoch_and_item() -> None:
    config = small_config(input_size=32)
    items = [(_top_row_image(), 0)]
    augmented = LabelledImages(items, config=config, train=True, augment=["rotate", "blur", "flop"], seed=5)
    first = _over_epochs(augmented)
    again = _over_epochs(LabelledImages(items, config=config, train=True, augment=["rotate", "blur", "flop"], seed=5))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert len({tuple(t.flatten().tolist()) for t in first}) > 4  # epochs draw different augmentations
    plain = _over_epochs(LabelledImages(items, config=config, train=False, augment=["rotate", "flop"], seed=5))
    assert all(torch.equal(plain[0], t) for t in plain)  # no randomness at evaluation time


def test_flips_move_the_bright_corner() -> None:
    config = small_config(input_size=32)
    items = [(_top_row_image(), 0)]
    mirrored_only = _over_epochs(LabelledImages(items, config=config, train=True, seed=1))
    corners = {(bool(t[0, 0, 0] > 0), bool(t[0, 0, 31] > 0), bool(t[0, 31, 0] > 0)) for t in mirrored_only}
    assert corners == {(True, False, False), (False, True, False)}  # the base left-right flip, never top-bottom
    flopped = _over_epochs(LabelledImages(items, config=config, train=True, augment=["flop"], seed=1))
    assert any(bool(t[0, 31, :].max() > 0) and not bool(t[0, 0, :].max() > 0) for t in flopped)


def test_check_items_names_the_bad_item() -> None:
    good = (np.zeros((4, 4, 3), dtype=np.uint8), 1)
    with pytest.raises(InvalidInput, match=r"items\[1\]\.image must be an HxWx3 uint8") as caught:
        check_items([good, (np.zeros((4, 4), dtype=np.uint8), 0)], num_classes=2, name="items")
    assert caught.value.field == "items[1].image"
    with pytest.raises(InvalidInput, match=r"items\[0\]\.label must be a class index from 0 to 1 \(got 2\)"):
        check_items([(good[0], 2)], num_classes=2, name="items")
    with pytest.raises(InvalidInput, match=r"got True"):
        check_items([(good[0], True)], num_classes=2, name="items")


def test_loader_is_seeded_and_batches_tensors() -> None:
    config = small_config(input_size=16)
    dataset = LabelledImages(digit_items(3, 4), config=config)

    def order(seed: int) -> list[int]:
        loader = make_loader(dataset, batch_size=5, shuffle=True, seed=seed, device="cpu")
        assert loader.pin_memory is False
        return [int(label) for _, labels in loader for label in labels]

    assert order(7) == order(7)
    assert order(7) != order(8)
    images, labels = next(iter(make_loader(dataset, batch_size=5, shuffle=False, seed=0, device="cpu")))
    assert images.shape == (5, 3, 16, 16) and images.dtype == torch.float32 and labels.dtype == torch.int64
