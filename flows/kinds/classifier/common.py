"""Shared by the classifier runners: the version's model and the dataset's photos as training items."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np

from commons.errors import InvalidInput, InvalidWeights
from commons.image_io import decode_image
from flows.steps.model_cache import cached_model
from flows.steps.prepare import DatasetInput, Prepared

if TYPE_CHECKING:
    from torch import nn

    from resources.classifier.blocks.spec import BlocksConfig
    from resources.classifier.config import ClassifierConfig
    from resources.classifier.data import Item

    AnyClassifierConfig = ClassifierConfig | BlocksConfig

# The weights file of the version a task makes: a train task names it TRAINED_WEIGHTS; an edit or an INT8
# export (the float weights beside config.quantization) names it DERIVED_WEIGHTS.
TRAINED_WEIGHTS: Final = "model.safetensors"
DERIVED_WEIGHTS: Final = "weights.safetensors"


def parse_config(prepared: Prepared) -> AnyClassifierConfig:
    """The version's config as its kind reads it (the kind's `parse_config`: a ResNet's or a model from blocks')."""
    from flows.kinds import KINDS  # the registry imports this module's kinds: look it up at run time

    parse = KINDS.get(prepared.kind).parse_config
    if parse is None:
        raise InvalidInput(f"kind {prepared.kind!r} has no config", field="kind")
    return cast("AnyClassifierConfig", parse(prepared.config))


def build_model(config: AnyClassifierConfig, weights_path: Path | None, *, device: str) -> nn.Module:
    """The float classifier of `config` from `weights_path` (None: from `config.init_seed`), in eval mode."""
    from resources.classifier.config import ClassifierConfig

    if isinstance(config, ClassifierConfig):
        from resources.classifier.resnet.model import build_classifier

        return build_classifier(config, weights_path, device=device)
    from resources.classifier.blocks.model import build_blocks_model

    return build_blocks_model(config, weights_path, device=device)


def model_device(prepared: Prepared, config: AnyClassifierConfig) -> str:
    """Where the version runs: INT8 versions on the CPU (the quantized kernels are x86/fbgemm), others on
    the task's device."""
    return "cpu" if config.quantization is not None else prepared.device


def load_float_model(prepared: Prepared, config: AnyClassifierConfig, *, device: str | None = None) -> nn.Module:
    """The version's float classifier (for an INT8 version its float weights), a copy of its own (train,
    export, inspect change or wrap it); on `device` or the task's device. Records `model_load_s`."""
    with prepared.timed("model_load"):
        model = build_model(config, _weights_path(prepared, config), device=device or prepared.device)
    return model


def load_model(prepared: Prepared, config: AnyClassifierConfig) -> nn.Module:
    """The version's classifier on `model_device`: from its weights file, or from `init_seed` when the
    version is architecture-only; for an INT8 version the INT8 (or hybrid) model rebuilt from its float
    weights and `config.quantization`. Records `model_load_s`.

    For read-only use (infer, evaluate): it may be the warm worker's cached copy, shared with other tasks;
    whatever changes the weights uses `load_float_model`."""
    device = model_device(prepared, config)
    weights_path = _weights_path(prepared, config)
    with prepared.timed("model_load"):
        load: Callable[[], nn.Module] = partial(build_model, config, weights_path, device=device)
        if config.quantization is not None:
            load = partial(_load_int8, config, weights_path)
        model = cached_model(
            digest=prepared.version_record.digest,
            device=device,
            load=load,
            timings=prepared.timings,
            expected_bytes=sum(w.size for w in prepared.weights.values()),
        )
    return model


def _load_int8(config: AnyClassifierConfig, weights_path: Path | None) -> nn.Module:
    from resources.classifier.int8.version import rebuild_int8

    if config.quantization is None:
        raise InvalidWeights("the version has no config.quantization; it is a float version")
    float_model = build_model(config, weights_path, device="cpu")
    return rebuild_int8(float_model, config.quantization, input_size=config.input_size, channels=config.input_channels)


def _weights_path(prepared: Prepared, config: AnyClassifierConfig) -> Path | None:
    if config.checkpoint is None:
        return None
    weights = prepared.weights.get(config.checkpoint)
    if weights is None:
        raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
    return weights.path


def save_version(model: nn.Module, config: AnyClassifierConfig, *, out: Path, weights_name: str) -> dict[str, Any]:
    """Write the version a task makes into `out`: `weights_name` (safetensors, no metadata: safetensors
    writes a multi-key metadata map in a random order, and config.json says it all), then `config.json`.
    Returns the config as written."""
    from resources.classifier.resnet.model import save_weights

    save_weights(model, path=out / weights_name)
    config_dict = config.model_dump(mode="json", exclude_none=True)
    (out / "config.json").write_text(json.dumps(config_dict, indent=2))
    return config_dict


def load_items(dataset: DatasetInput, *, classes: list[str], input_size: int, max_pixels: int) -> list[Item]:
    """Every labelled photo as (input_size x input_size x 3 uint8 array, index of its label in `classes`).

    Photos are resized once here, as the first transform would (Resize to a square of `input_size`), so a
    large dataset stays small in memory; resizing an image to its own size leaves it unchanged.
    """
    from resources.classifier.data import resize

    index = {name: position for position, name in enumerate(classes)}
    labelled = [(item, item.label) for item in dataset.items if item.label is not None]
    unknown = sorted({label for _, label in labelled} - set(index))
    if unknown:
        raise InvalidInput(
            f"dataset {dataset.name!r} has labels the model does not know: {', '.join(unknown)}; the model's "
            f"classes are {', '.join(classes)}",
            field="dataset",
        )
    items: list[Item] = []
    for item, label in labelled:
        image = decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_pixels)
        items.append((np.asarray(resize(image, input_size)), index[label]))
    return items
