"""Shared by the classifier runners: the version's model and the dataset's photos as training items."""

from __future__ import annotations

import time
from functools import partial
from typing import TYPE_CHECKING

import numpy as np

from commons.errors import InvalidInput, InvalidWeights
from commons.image_io import decode_image
from flows.model_cache import cached_model
from flows.prepare import DatasetInput, Prepared

if TYPE_CHECKING:
    from torchvision.models import ResNet

    from resources.classifier.config import ClassifierConfig
    from resources.classifier.data import Item


def load_model(prepared: Prepared, config: ClassifierConfig, *, shared: bool = True) -> ResNet:
    """The version's classifier on the task's device: from its weights file, or from `init_seed` when the
    version is architecture-only. Records `model_load_s`.

    `shared=True` (infer, evaluate: read-only use) may return the warm worker's cached copy; training changes
    the weights, so it asks for `shared=False` and always gets its own."""
    from resources.classifier.model import build_classifier

    weights_path = None
    if config.checkpoint is not None:
        weights = prepared.weights.get(config.checkpoint)
        if weights is None:
            raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
        weights_path = weights.path
    started = time.perf_counter()
    load = partial(build_classifier, config, weights_path, device=prepared.device)
    if shared:
        model = cached_model(
            digest=prepared.resource["digest"],
            device=prepared.device,
            load=load,
            timings=prepared.timings,
            expected_bytes=sum(w.size for w in prepared.weights.values()),
        )
    else:
        model = load()
    prepared.timings["model_load_s"] = round(time.perf_counter() - started, 4)
    return model


def load_items(dataset: DatasetInput, *, classes: list[str], input_size: int, max_pixels: int) -> list[Item]:
    """Every labelled photo as (input_size x input_size x 3 uint8 array, index of its label in `classes`).

    Photos are resized once here, as the first transform would (Resize to a square of `input_size`), so a
    large dataset stays small in memory; resizing an image to its own size leaves it unchanged.
    """
    from resources.classifier.data import resize

    index = {name: position for position, name in enumerate(classes)}
    unknown = sorted({item.label for item in dataset.items} - set(index))
    if unknown:
        raise InvalidInput(
            f"dataset {dataset.name!r} has labels the model does not know: {', '.join(unknown)}; the model's "
            f"classes are {', '.join(classes)}",
            field="dataset",
        )
    items: list[Item] = []
    for item in dataset.items:
        image = decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_pixels)
        items.append((np.asarray(resize(image, input_size)), index[item.label]))
    return items
