"""Labelled images as torch datasets: preprocessing, seeded augmentation, stratified split, loaders.

An item is ``(image, label)``: `image` an HxWx3 uint8 RGB array (what `commons.image_io.decode_image`
returns), `label` the index of its class in `ClassifierConfig.classes`. Items live in memory; callers
decode files first.

Preprocessing follows the seed platform: Resize((input_size, input_size)), at train time
RandomHorizontalFlip (p=0.5), ToTensor, Normalize(mean, std). Each `augment` op is applied at train
time with p=0.5 after resizing: rotate (uniform ±15°, black corners), blur (Gaussian, radius 1),
flip (left-right), flop (top-bottom). The base horizontal flip and "flip" are one draw, not two.
Random draws come from a numpy Generator seeded by (seed, epoch, item index), so an epoch's
augmented images are the same whatever the number of loader workers.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Final

import numpy as np
import torch
from PIL import Image, ImageFilter
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import functional as tf

from commons.errors import InvalidInput
from commons.image_io import check_rgb_array
from resources.classifier.config import Augment, ImageClassifierConfig

Item = tuple[np.ndarray, int]
MAX_ROTATION_DEGREES: Final[float] = 15.0
BLUR_RADIUS: Final[float] = 1.0


class LabelledImages(Dataset[tuple[torch.Tensor, int]]):
    """`dataset[i]` is ``(x, label)``: x a CxSxS float32 tensor (C = config.input_channels: 3 RGB, 1 grey
    by ITU-R 601-2 luma; S = config.input_size), normalised
    with config.mean/std (so roughly in [-2.2, 2.7] for ImageNet statistics); label an int.

    With ``train=True`` the random flips and `augment` ops apply; call `set_epoch` before each epoch
    so that every epoch draws new (but reproducible) augmentations.
    """

    def __init__(
        self,
        items: Sequence[Item],
        *,
        config: ImageClassifierConfig,
        train: bool = False,
        augment: Sequence[Augment] = (),
        seed: int = 0,
    ) -> None:
        self.items = items
        self.config = config
        self.train = train
        self.augment = frozenset(augment)
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the augmentation draws of `epoch` (loader workers are created per epoch, so they see it)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        image, label = self.items[index]
        picture = resize(image, self.config.input_size)
        if self.train:
            picture = self._augment(picture, np.random.default_rng([self.seed, self.epoch, index]))
        if self.config.input_channels == 1:
            picture = picture.convert("L")  # ITU-R 601-2 luma
        return normalise(picture, self.config), label

    def _augment(self, picture: Image.Image, rng: np.random.Generator) -> Image.Image:
        # One fixed sequence of draws per item, whichever ops are enabled, so that enabling one op
        # does not shift the others' randomness.
        mirror, rotate, angle, blur, flop = rng.random(5)
        if mirror < 0.5:  # the seed platform's RandomHorizontalFlip, also what "flip" asks for
            picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
        if "rotate" in self.augment and rotate < 0.5:
            picture = tf.rotate(picture, float((2 * angle - 1) * MAX_ROTATION_DEGREES))
        if "blur" in self.augment and blur < 0.5:
            picture = picture.filter(ImageFilter.GaussianBlur(BLUR_RADIUS))
        if "flop" in self.augment and flop < 0.5:
            picture = picture.transpose(Image.Transpose.FLIP_TOP_BOTTOM)
        return picture


def resize(image: np.ndarray, size: int) -> Image.Image:
    """An HxWx3 uint8 array as a size x size RGB PIL image (bilinear, antialiased; aspect not kept)."""
    return tf.resize(Image.fromarray(image), [size, size])


def normalise(picture: Image.Image, config: ImageClassifierConfig) -> torch.Tensor:
    """ToTensor then Normalize: a CxHxW float32 tensor (C = 3 for RGB, 1 for an "L" picture),
    (pixel/255 - mean) / std per channel."""
    return tf.normalize(tf.to_tensor(picture), list(config.mean), list(config.std))


def check_items(items: Sequence[Item], *, num_classes: int, name: str) -> None:
    """Raise InvalidInput naming the first item that is not (HxWx3 uint8 array, label in 0..num_classes-1)."""
    for index, item in enumerate(items):
        if not (isinstance(item, tuple) and len(item) == 2):
            raise InvalidInput(f"{name}[{index}] must be an (image, label) pair", field=f"{name}[{index}]")
        image, label = item
        check_rgb_array(image, name=f"{name}[{index}].image")
        if isinstance(label, bool) or not isinstance(label, int | np.integer) or not 0 <= label < num_classes:
            raise InvalidInput(
                f"{name}[{index}].label must be a class index from 0 to {num_classes - 1} (got {label!r})",
                field=f"{name}[{index}].label",
            )


def split_indices(labels: Sequence[int], *, val_fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Stratified, deterministic (train, validation) split of item positions, each list sorted.

    Per class, round(n * val_fraction) items go to validation, clamped so that a class with ≥ 2
    items has at least one on each side; a class with a single item stays in training. The same
    labels, fraction and seed always give the same split.
    """
    if not 0.0 < val_fraction < 1.0:
        raise InvalidInput(f"val_fraction must be > 0 and < 1 (got {val_fraction})", field="val_fraction")
    rng = np.random.default_rng(seed)
    by_class: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(position)
    train: list[int] = []
    val: list[int] = []
    for label in sorted(by_class):
        members = np.asarray(by_class[label])
        shuffled = members[rng.permutation(len(members))].tolist()
        count = 0 if len(members) < 2 else min(len(members) - 1, max(1, round(len(members) * val_fraction)))
        val.extend(shuffled[:count])
        train.extend(shuffled[count:])
    return sorted(train), sorted(val)


def make_loader(
    dataset: Dataset[tuple[torch.Tensor, int]],
    *,
    batch_size: int,
    shuffle: bool,
    seed: int,
    device: str,
    num_workers: int = 0,
    drop_last: bool = False,
) -> DataLoader[tuple[torch.Tensor, int]]:
    """A DataLoader yielding (Bx3xSxS float32, B int64) batches.

    Shuffling draws from a `torch.Generator` seeded with `seed`; each worker seeds `random` and numpy
    from its torch seed; memory is pinned only for a CUDA device. Workers start from a fork server, not a
    fork of this process: a worker process has other threads (heartbeat, Prefect client, event loops) and
    a forked child inherits their locks in whatever state they were, which can kill the child.
    """
    generator = torch.Generator()
    generator.manual_seed(seed)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        num_workers=num_workers,
        generator=generator,
        worker_init_fn=seed_worker,
        pin_memory=device.startswith("cuda"),
        drop_last=drop_last,
        multiprocessing_context="forkserver" if num_workers > 0 else None,
    )


def seed_worker(worker_id: int) -> None:
    """Seed `random` and numpy in a loader worker from the torch seed the loader gave it."""
    seed = torch.initial_seed() % 2**32
    random.seed(seed)
    np.random.seed(seed)  # third-party transforms may use numpy's legacy global generator
