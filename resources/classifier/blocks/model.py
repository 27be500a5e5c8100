"""Build a `classifier.blocks` model, an `nn.Sequential` of the config's blocks, and load its weights.

Block i (0-based) becomes child ``str(i)`` of a `BlockStack`, the PyTorch module of the same name with
the block's parameters (Flatten → ``nn.Flatten(1)``, Softmax → ``nn.Softmax(dim=1)``), so state-dict keys
read ``"0.weight"``, ``"3.running_mean"``. Input: Bx C x S x S float32 normalised with the config's
mean/std (C = input_channels, S = input_size); output: BxK float32 logits in the order of
`config.classes`.

Weights are read as in `resources.classifier.resnet.model`: safetensors, or `.pth`/`.pt` through
``torch.load(weights_only=True)`` only; a file that does not fit the blocks is refused with the tensors
named.
"""

from __future__ import annotations

from collections import OrderedDict
from functools import partial
from pathlib import Path
from typing import Final

from torch import nn

from commons.errors import InvalidInput
from resources.classifier.blocks.layer_types import (
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Block,
    Conv2d,
    Dropout,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
)
from resources.classifier.blocks.spec import BlocksConfig, unit_spans
from resources.weights import build_model, check_weights_fit

_FITS: Final[str] = "blocks (each block's parameters, in order)"


class BlockStack(nn.Sequential):
    """The model of a `classifier.blocks` version: its blocks as children "0", "1", … run in order.

    `spans` are its quantization/inspection units, (name, first block, end) as `unit_spans` gives them.
    """

    def __init__(self, *blocks: nn.Module, spans: list[tuple[str, int, int]]) -> None:
        super().__init__(*blocks)
        self.spans = spans

    def units(self) -> list[tuple[str, nn.Module]]:
        """The units in execution order, each an `nn.Sequential` of this model's own modules (see
        `block_units`); what `resources.classifier.resnet.units.model_units` gives for a model from blocks."""
        children = list(self.named_children())
        return [(name, nn.Sequential(OrderedDict(children[start:stop]))) for name, start, stop in self.spans]


def build_blocks_model(config: BlocksConfig, weights_path: Path | None, *, device: str) -> BlockStack:
    """Return the model in eval mode on `device`, float32.

    `weights_path` None: PyTorch's default initialisation drawn from `config.init_seed` (the same seed
    gives bit-identical weights; the global torch RNG is left as it was). Otherwise the file's weights,
    loaded onto a model built on the meta device. Raises InvalidWeights for a missing, unreadable, unsafe
    or mismatched file.
    """
    return build_model(
        partial(_construct, config), weights_path, seed=config.init_seed, device=device, described_by=_FITS
    )


def check_blocks_weights_file(path: Path, *, config: BlocksConfig) -> None:
    """Open a weights file as `build_blocks_model` would, without building the model (upload-time check):
    tensor names and shapes are compared with what the config's blocks need."""
    check_weights_fit(path, partial(_construct, config), described_by=_FITS)


def block_units(model: BlockStack, config: BlocksConfig) -> list[tuple[str, nn.Module]]:
    """The units of `unit_spans(config)` in execution order, each an `nn.Sequential` of the model's own
    modules (not copies) keeping their names, so a unit's state-dict keys are the model's ("3.weight").
    Running the units one after the other is the model's forward pass."""
    if model.spans != unit_spans(config):
        raise InvalidInput("model: it was not built from this config (its units differ)", field="model")
    return model.units()


def _construct(config: BlocksConfig) -> BlockStack:
    return BlockStack(*(_module(block) for block in config.blocks), spans=unit_spans(config))


def _module(block: Block) -> nn.Module:
    """The PyTorch module a block describes (float32, default initialisation from the current RNG)."""
    if isinstance(block, Linear):
        return nn.Linear(block.in_features, block.out_features, bias=block.bias)
    if isinstance(block, Conv2d):
        return nn.Conv2d(
            block.in_channels,
            block.out_channels,
            block.kernel_size,
            stride=block.stride,
            padding=block.padding,
            dilation=block.dilation,
            bias=block.bias,
        )
    if isinstance(block, MaxPool2d):
        return nn.MaxPool2d(block.kernel_size, stride=block.stride, padding=block.padding)
    if isinstance(block, AvgPool2d):
        return nn.AvgPool2d(block.kernel_size, stride=block.stride, padding=block.padding)
    if isinstance(block, BatchNorm1d):
        return nn.BatchNorm1d(block.num_features, eps=block.eps, momentum=block.momentum)
    if isinstance(block, BatchNorm2d):
        return nn.BatchNorm2d(block.num_features, eps=block.eps, momentum=block.momentum)
    if isinstance(block, Dropout):
        return nn.Dropout(block.p)
    if isinstance(block, Flatten):
        return nn.Flatten(1)
    if isinstance(block, ReLU):
        return nn.ReLU()
    if isinstance(block, Sigmoid):
        return nn.Sigmoid()
    if isinstance(block, Tanh):
        return nn.Tanh()
    if isinstance(block, LeakyReLU):
        return nn.LeakyReLU(block.negative_slope)
    if isinstance(block, Softmax):
        return nn.Softmax(dim=1)
    raise AssertionError(f"no module for block type {block.type}")  # pragma: no cover - BLOCK_TYPES is closed
