"""Shape inference for a stack of layer blocks, without torch, with PyTorch's formulas.

A stack that cannot run is refused with a message naming the block, what it expects, what the block
before it gives and, unless that makes it plain, what to change. Shapes are written without the batch
dimension: (C, H, W) for images, shown "16x7x7", and (F,) for flat features, shown "1568".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from commons.errors import InvalidInput
from resources.classifier.blocks.layer_types import (
    IMAGE_BLOCKS,
    AvgPool2d,
    BatchNorm1d,
    BatchNorm2d,
    Block,
    Conv2d,
    Flatten,
    Linear,
    MaxPool2d,
    Shape,
)
from resources.classifier.config import MAX_CLASSES

MAX_PARAMETERS: Final[int] = 100_000_000


@dataclass(frozen=True)
class BlockShape:
    """What block `index` (1-based) gives: its output shape without the batch dimension, (C, H, W) or
    (F,), and its trainable parameter count (sum of `p.numel()` over the torch module's parameters)."""

    index: int
    type: str
    output_shape: Shape
    parameters: int


def show_shape(shape: Shape) -> str:
    """(16, 7, 7) → "16x7x7"; (1568,) → "1568"."""
    return "x".join(str(size) for size in shape)


def infer_shapes(*, input_channels: int, input_size: int, blocks: Sequence[Block]) -> list[BlockShape]:
    """Each block's output shape and parameter count, for an input of (input_channels, input_size,
    input_size); raises InvalidInput (field ``config.blocks[i]``) at the first block that cannot run."""
    shapes, problem = infer_partial(input_channels, input_size, blocks)
    if problem is not None:
        raise problem
    return shapes


def check_head(blocks: Sequence[Block], shapes: Sequence[BlockShape], *, classes: list[str] | None) -> None:
    """The model must end flat with 2..MAX_CLASSES outputs (as many as `classes` names) and stay under
    MAX_PARAMETERS."""
    count, last = len(blocks), blocks[-1].type
    final = shapes[-1].output_shape
    field = f"config.blocks[{count - 1}]"
    if len(final) != 1:
        raise InvalidInput(
            f"the last block (block {count} {last}) gives {show_shape(final)}; a classifier must end with flat "
            "features, one per class: add a Flatten and a Linear",
            field=field,
        )
    outputs = final[0]
    if outputs < 2:
        raise InvalidInput(
            f"the model gives {outputs} output; a classifier needs at least 2 classes: make the last block "
            "give one output per class",
            field=field,
        )
    if outputs > MAX_CLASSES:
        raise InvalidInput(
            f"the model gives {outputs} outputs; a classifier has at most {MAX_CLASSES} classes", field=field
        )
    total = sum(shape.parameters for shape in shapes)
    if total > MAX_PARAMETERS:
        raise InvalidInput(
            f"the blocks have {total:,} parameters; at most {MAX_PARAMETERS:,} are allowed: use fewer or "
            "smaller Linear and Conv2d blocks (or pool the image before the first Linear)",
            field="config.blocks",
        )
    if classes is not None and len(classes) != outputs:
        raise InvalidInput(
            f"config.classes names {len(classes)} classes but the last block (block {count} {last}) gives "
            f"{outputs} outputs; name one class per output",
            field="config.classes",
        )


def infer_partial(
    input_channels: int, input_size: int, blocks: Sequence[Block]
) -> tuple[list[BlockShape], InvalidInput | None]:
    """The shapes of the blocks that can run, and the problem of the first one that cannot (or None)."""
    shape: Shape = (input_channels, input_size, input_size)
    shapes: list[BlockShape] = []
    for index, block in enumerate(blocks):
        try:
            shape, parameters = _block_shape(index, block, shape, blocks)
        except InvalidInput as exc:
            return shapes, exc
        shapes.append(BlockShape(index + 1, block.type, shape, parameters))
    return shapes, None


def _block_shape(index: int, block: Block, shape: Shape, blocks: Sequence[Block]) -> tuple[Shape, int]:
    """(output shape, parameter count) of `block` (0-based `index`) given its input `shape`."""
    name = f"block {index + 1} {block.type}"
    source = "the input" if index == 0 else f"block {index} {blocks[index - 1].type}"

    def fail(message: str) -> InvalidInput:
        return InvalidInput(message, field=f"config.blocks[{index}]")

    if isinstance(block, IMAGE_BLOCKS) and len(shape) != 3:
        raise fail(
            f"{name} needs an image-shaped input (channels x height x width), {source} gives {shape[0]} "
            f"features; put {block.type} blocks before the Flatten"
        )
    if isinstance(block, Linear | BatchNorm1d) and len(shape) != 1:
        raise fail(f"{name} needs flat features, {source} gives {show_shape(shape)}; add a Flatten block before it")
    if isinstance(block, Linear):
        if block.in_features != shape[0]:
            raise fail(f"{name} expects {_count(block.in_features, 'input')}, {source} gives {shape[0]}")
        weights = block.in_features * block.out_features
        return (block.out_features,), weights + (block.out_features if block.bias else 0)
    if isinstance(block, BatchNorm1d | BatchNorm2d):
        unit = "channel" if isinstance(block, BatchNorm2d) else "feature"
        if block.num_features != shape[0]:
            raise fail(f"{name} expects {_count(block.num_features, unit)}, {source} gives {shape[0]}")
        return shape, 2 * block.num_features
    if isinstance(block, Flatten):
        return (_product(shape),), 0
    if not isinstance(block, Conv2d | MaxPool2d | AvgPool2d):
        return shape, 0  # activations, Dropout, Softmax: shape unchanged, no parameters
    channels, size = shape[0], shape[1]
    if isinstance(block, Conv2d):
        if block.in_channels != channels:
            raise fail(f"{name} expects {_count(block.in_channels, 'input channel')}, {source} gives {channels}")
        stride, dilation = block.stride, block.dilation
    else:
        if 2 * block.padding > block.kernel_size:
            raise fail(
                f"{name}: padding {block.padding} is more than half of kernel_size {block.kernel_size}; use "
                f"padding ≤ {block.kernel_size // 2}"
            )
        stride, dilation = block.stride or block.kernel_size, 1
    window = dilation * (block.kernel_size - 1) + 1
    out = (size + 2 * block.padding - window) // stride + 1
    if out < 1:
        seen = f"the {size}x{size} input image" if index == 0 else f"the {size}x{size} input from {source}"
        detail = f" (kernel_size {block.kernel_size}, dilation {dilation})" if dilation > 1 else ""
        smaller = "a smaller kernel_size or dilation" if dilation > 1 else "a smaller kernel_size"
        raise fail(
            f"{name}: its {window}x{window} window{detail} does not fit {seen} (the output would be "
            f"{max(out, 0)}x{max(out, 0)}); use {smaller}, add padding, or remove a pooling block"
        )
    if isinstance(block, Conv2d):
        weights = block.out_channels * block.in_channels * block.kernel_size**2
        return (block.out_channels, out, out), weights + (block.out_channels if block.bias else 0)
    return (channels, out, out), 0


def _count(number: int, noun: str) -> str:
    """3, "input" → "3 inputs"; 1, "input" → "1 input"."""
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def _product(shape: Shape) -> int:
    result = 1
    for size in shape:
        result *= size
    return result
