"""What a task will cost before it runs: the peak activation memory of a classifier, and the check of an
estimate against a lane's budget.

Why: a config can be small and still ruinous. A `classifier.blocks` model of 24,578 parameters whose first
block is a 1x1 Conv2d to 4096 channels at 1024 px needs about 17 GB for one photo; it would have run on the
shared warm worker. The API estimates before anything is stored or dispatched and refuses, naming the block
or parameter, what is over the deployment's budget (`COMMONS_WARM_LANE_ACTIVATION_BYTES`,
`COMMONS_BATCH_LANE_ACTIVATION_BYTES`).

The estimates count activations only, float32 (4 bytes a value): weights, the framework's workspace and the
allocator's slack come on top, which the budgets leave room for.

- Inference (infer, evaluate, export, inspect) runs under `torch.inference_mode`: a layer's input is freed
  once the next layer has used it, so the peak is the largest input + output of one layer (for a ResNet, plus
  the input a residual block keeps for its shortcut).
- Training keeps every layer's output for the backward pass, then a gradient of the same size: 2 × (input +
  the sum of every layer's output).
- `classifier.blocks`: the shapes come from `block_shapes.infer_shapes` (no torch; checked against torch in
  the tests). `classifier.resnet`: torchvision's network is built on the meta device and run on a meta tensor
  with forward hooks (no memory, no weights; cached per arch and input size).
- SAM: `resources.sam.cost`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from typing import Final

from commons.errors import InvalidInput
from resources.classifier.blocks.shapes import infer_shapes, show_shape
from resources.classifier.blocks.spec import BlocksConfig
from resources.classifier.config import ClassifierConfig

FLOAT32_BYTES: Final[int] = 4
TRAIN_FACTOR: Final[int] = 2  # kept activations + their gradients


@dataclass(frozen=True)
class MemoryEstimate:
    """Peak activation bytes of a task: `fixed` + `per_item` × `batch`.

    A classifier's item is a photo (`fixed` 0); SAM's item is a prompt point of a batch (`fixed` is the image
    encoder). `culprit` names what dominates an item (a block, a layer, a step), `field` the config or
    parameter to change and `advice` how; `batch_field` names the parameter that sets `batch`.
    """

    fixed: int
    per_item: int
    batch: int
    culprit: str
    field: str
    advice: str
    batch_field: str = "params.batch_size"

    @property
    def total(self) -> int:
        return self.fixed + self.per_item * self.batch


def show_bytes(count: float) -> str:
    """17_179_869_184 → "17.2 GB" (decimal units, as memory is sold); small counts in MB."""
    if count >= 1e9:
        return f"{count / 1e9:.1f} GB"
    return f"{count / 1e6:.1f} MB"


def check_memory(estimate: MemoryEstimate, *, budget: int, setting: str, lane: str) -> None:
    """Refuse an estimate over `budget` (the `setting` of the `lane`), naming what to change.

    When one item fits but the batch does not, the message names the batch parameter and the largest batch
    that fits; otherwise the block, layer or parameter that makes one item too large.
    """
    if estimate.total <= budget:
        return
    over = f"over the {lane} lane's budget of {show_bytes(budget)} ({setting}={budget})"
    single = estimate.fixed + estimate.per_item
    if estimate.batch > 1 and single <= budget:
        fits = max(1, (budget - estimate.fixed) // max(1, estimate.per_item))
        raise InvalidInput(
            f"{estimate.batch_field} {estimate.batch}: {estimate.culprit}; {estimate.batch} at once need about "
            f"{show_bytes(estimate.total)} of activation memory, {over}; use {estimate.batch_field} ≤ {fits}",
            field=estimate.batch_field,
        )
    raise InvalidInput(
        f"{estimate.culprit}: {'one item' if estimate.fixed else 'one photo'} needs about {show_bytes(single)} of "
        f"activation memory, {over}; {estimate.advice}",
        field=estimate.field,
    )


def blocks_memory(config: BlocksConfig, *, training: bool, batch: int) -> MemoryEstimate:
    """Peak activation memory of a model from blocks for `batch` photos (see the module docstring)."""
    shapes = infer_shapes(input_channels=config.input_channels, input_size=config.input_size, blocks=config.blocks)
    sizes = [_numel(config.input_shape), *(_numel(shape.output_shape) for shape in shapes)]
    if training:
        per_photo = TRAIN_FACTOR * sum(sizes) * FLOAT32_BYTES
        worst = max(range(len(shapes)), key=lambda i: sizes[i + 1])
    else:
        # Block i holds its input (block i-1's output) and its output; name whichever block made the larger of
        # the two (a ReLU after a wide Conv2d is not what to change), the first block if the input is larger.
        step = max(range(len(shapes)), key=lambda i: sizes[i] + sizes[i + 1])
        per_photo = (sizes[step] + sizes[step + 1]) * FLOAT32_BYTES
        worst = step if sizes[step + 1] > sizes[step] or step == 0 else step - 1
    shape = shapes[worst]
    culprit = f"block {shape.index} {shape.type} gives {show_shape(shape.output_shape)} per photo"
    advice = (
        f"give block {shape.index} fewer channels or features, add a stride or a pooling block before it, or use a "
        "smaller input_size"
    )
    return MemoryEstimate(0, per_photo, batch, culprit, f"config.blocks[{shape.index - 1}]", advice)


def resnet_memory(config: ClassifierConfig, *, training: bool, batch: int) -> MemoryEstimate:
    """Peak activation memory of a ResNet classifier for `batch` photos, measured on the meta device."""
    peak, total, layer = _resnet_profile(config.arch, config.input_size)
    per_photo = (TRAIN_FACTOR * total if training else peak) * FLOAT32_BYTES
    culprit = f"{config.arch} at {config.input_size}x{config.input_size} px (largest layer: {layer})"
    return MemoryEstimate(0, per_photo, batch, culprit, "config.input_size", "use a smaller input_size")


@lru_cache(maxsize=64)
def _resnet_profile(arch: str, input_size: int) -> tuple[int, int, str]:
    """(inference peak values, sum of every layer's output values incl. the input, the peak layer's name) of one
    photo, from a forward pass on the meta device with hooks on every leaf module and residual block."""
    import torch
    from torch import nn
    from torchvision.models import resnet18, resnet34, resnet50
    from torchvision.models.resnet import BasicBlock, Bottleneck

    builders = {"resnet18": resnet18, "resnet34": resnet34, "resnet50": resnet50}
    with torch.device("meta"):
        model = builders[arch](weights=None).eval()
        image = torch.empty(1, 3, input_size, input_size)
    profile = _Profile(total=image.numel())

    def keep(_module: nn.Module, inputs: tuple[torch.Tensor, ...]) -> None:
        profile.kept = inputs[0].numel()  # the shortcut holds the block's input until the sum

    def release(_module: nn.Module, _inputs: tuple[torch.Tensor, ...], _output: torch.Tensor) -> None:
        profile.kept = 0

    for name, module in model.named_modules():
        if isinstance(module, BasicBlock | Bottleneck):
            module.register_forward_pre_hook(keep)
            module.register_forward_hook(release)
        elif not any(True for _ in module.children()):
            module.register_forward_hook(partial(_record, profile, name))
    with torch.inference_mode():
        model(image)
    return profile.peak, profile.total, profile.layer


@dataclass
class _Profile:
    """What the hooks of `_resnet_profile` gather, in values (not bytes)."""

    total: int
    kept: int = 0
    peak: int = 0
    layer: str = ""


def _record(profile: _Profile, name: str, _module: object, inputs: tuple[object, ...], output: object) -> None:
    """A leaf module ran: its inputs and output (and a kept shortcut) are alive together."""
    import torch

    if not isinstance(output, torch.Tensor):
        return
    used = sum(x.numel() for x in inputs if isinstance(x, torch.Tensor)) + output.numel() + profile.kept
    profile.total += output.numel()
    if used > profile.peak:
        profile.peak, profile.layer = used, name


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count
