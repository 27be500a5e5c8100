"""Schema of a `classifier.blocks` version: a CNN/DNN written as a list of layer blocks, run in order.

Pydantic only, no torch: the API imports this module to validate configs (and to answer
``POST /api/v1/blocks/validate``) cheaply. Each block names a PyTorch module and takes exactly that
constructor's arguments (``{"type": "Conv2d", "in_channels": 1, "out_channels": 16, "kernel_size": 3}``);
`resources.classifier.blocks.model` builds the real `nn.Sequential` from them.

The model's input is a Bx C x S x S float32 batch (C = `input_channels`, S = `input_size`; images are
resized to S x S and normalised with `mean`/`std`, one value per channel); its output is BxK float32
logits, K = the last block's width, logit i belonging to ``classes[i]``.

Validation infers every block's shape without torch (`resources.classifier.blocks.shapes`), so that a
stack that cannot run is refused with a message naming the block, what it expects, what the block before
it gives and what to change. The block types are in `resources.classifier.blocks.layer_types`; the catalog and
the Build page's validation report in `resources.classifier.blocks.catalog`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from commons.errors import InvalidInput
from resources.classifier.blocks.layer_types import UNIT_STARTS, Block, Linear, Shape
from resources.classifier.blocks.shapes import check_head, infer_shapes
from resources.classifier.config import (
    IMAGENET_MEAN,
    IMAGENET_STD,
    MAX_CLASSES,
    ClassNames,
    MeanValue,
    QuantizationSpec,
    Seed,
    StdValue,
    WeightsName,
)
from resources.schema import Int, field_error, parse_model

MAX_BLOCKS: Final[int] = 100
MAX_INPUT_CHANNELS: Final[int] = 64


class StackSpec(BaseModel):
    """The part of a config that fixes the shapes: input and blocks (other keys ignored)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    input_channels: Int = Field(default=3, ge=1, le=MAX_INPUT_CHANNELS)
    input_size: Int = Field(default=28, ge=8, le=1024)
    blocks: list[Block] = Field(min_length=1, max_length=MAX_BLOCKS)


class BlocksConfig(StackSpec):
    """`config.json` of a `classifier.blocks` version: the input, the blocks, class names, preprocessing.

    `classes[i]` names output logit i; left out, it is filled with "class 0" … "class K-1" (K = the last
    block's width) by validation. `mean`/`std` hold one value
    per input channel; left out: ImageNet's for 3 channels, 0.5 otherwise. `checkpoint` None means an
    architecture-only version initialised from `init_seed`.

    Shape problems raise `InvalidInput` (field ``config.blocks[i]``, i 0-based), not `ValidationError`.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    # Left out (the default is not validated): filled with "class 0" … after the shapes are known.
    classes: ClassNames = Field(default_factory=list, min_length=2, max_length=MAX_CLASSES)
    mean: tuple[MeanValue, ...] = Field(default=IMAGENET_MEAN, min_length=1, max_length=MAX_INPUT_CHANNELS)
    std: tuple[StdValue, ...] = Field(default=IMAGENET_STD, min_length=1, max_length=MAX_INPUT_CHANNELS)
    checkpoint: WeightsName | None = None
    init_seed: Seed = 0
    quantization: QuantizationSpec | None = Field(
        default=None, description="Set on INT8 versions made by an export task; absent on float versions."
    )

    @model_validator(mode="before")
    @classmethod
    def _default_normalisation(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            channels = data.get("input_channels", 3)
            if type(channels) is int and channels != 3 and 1 <= channels <= MAX_INPUT_CHANNELS:
                data = {"mean": (0.5,) * channels, "std": (0.5,) * channels, **data}
        return data

    @model_validator(mode="after")
    def _check_shapes(self) -> Self:
        for name in ("mean", "std"):
            values = getattr(self, name)
            if len(values) != self.input_channels:
                raise field_error(name, f"needs one value per input channel ({self.input_channels}), got {len(values)}")
        shapes = infer_shapes(input_channels=self.input_channels, input_size=self.input_size, blocks=self.blocks)
        check_head(self.blocks, shapes, classes=self.classes or None)
        if not self.classes:  # frozen: set once here, as pydantic itself does, and count it as given
            object.__setattr__(self, "classes", [f"class {i}" for i in range(shapes[-1].output_shape[0])])
            self.__pydantic_fields_set__.add("classes")
        return self

    @property
    def class_names(self) -> list[str]:
        """`classes` (filled in by validation when left out)."""
        return self.classes

    @property
    def has_batch_norm(self) -> bool:
        """Whether a block is BatchNorm1d or BatchNorm2d (training then needs batches of 2 or more)."""
        return any(block.type in ("BatchNorm1d", "BatchNorm2d") for block in self.blocks)

    @property
    def model_name(self) -> str:
        """How messages name the model."""
        return f"the model of {len(self.blocks)} blocks"

    def unit_names(self) -> list[str]:
        """The units `keep_float` names, in execution order (see `unit_spans`)."""
        return unit_names_for_blocks(self)

    @property
    def num_outputs(self) -> int:
        """K: the number of logits (= classes) the model gives."""
        return len(self.class_names)

    @property
    def input_shape(self) -> Shape:
        """(C, S, S): one input image, without the batch dimension."""
        return (self.input_channels, self.input_size, self.input_size)


def parse_blocks_config(raw: Mapping[str, Any]) -> BlocksConfig:
    """Validate a `classifier.blocks` config.json; errors become InvalidInput naming `config.<path>`,
    e.g. ``config.blocks[2].kernel_size: must be ≥ 1 (got 0)``."""
    return parse_model(BlocksConfig, raw, prefix="config")


def check_dataset_classes(config: BlocksConfig, *, num_classes: int, dataset_name: str) -> None:
    """Refuse a dataset whose class count differs from the model's output count (field "dataset")."""
    outputs = config.num_outputs
    if num_classes == outputs:
        return
    count = len(config.blocks)
    last = config.blocks[-1]
    head = f"the dataset {dataset_name!r} has {num_classes} classes but "
    if isinstance(last, Linear):
        raise InvalidInput(
            f"{head}the last Linear (block {count}) has {outputs} outputs; set that block's out_features to "
            f"{num_classes}",
            field="dataset",
        )
    linears = [index for index, block in enumerate(config.blocks, start=1) if isinstance(block, Linear)]
    fix = (
        f"set the out_features of the last Linear (block {linears[-1]}) to {num_classes}"
        if linears
        else f"change the blocks so that the model gives {num_classes} outputs"
    )
    raise InvalidInput(
        f"{head}the last block (block {count} {last.type}) gives {outputs} outputs; {fix}", field="dataset"
    )


def unit_spans(config: BlocksConfig) -> list[tuple[str, int, int]]:
    """(name, start, stop) of each unit, 0-based with `stop` exclusive: a unit starts at block 1 and at
    every Conv2d or Linear and runs to just before the next one; its name is "block<first 1-based index>"."""
    starts = [0] + [index for index, block in enumerate(config.blocks) if index and isinstance(block, UNIT_STARTS)]
    stops = [*starts[1:], len(config.blocks)]
    return [(f"block{start + 1}", start, stop) for start, stop in zip(starts, stops, strict=True)]


def unit_names_for_blocks(config: BlocksConfig) -> list[str]:
    """The unit names in execution order, e.g. ["block1", "block4", "block7"] (see `unit_spans`)."""
    return [name for name, _, _ in unit_spans(config)]
