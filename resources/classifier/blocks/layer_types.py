"""The layer blocks of a `classifier.blocks` model: one pydantic model per PyTorch module it names.

Each block takes exactly that module's constructor arguments (``{"type": "Conv2d", "in_channels": 1,
"out_channels": 16, "kernel_size": 3}``); its `HELP` and its fields' descriptions are what the Build
page's palette and parameter form show (`resources.classifier.blocks.catalog`). Pydantic only, no torch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidatorFunctionWrapHandler, WrapValidator

from resources.schema import Bool, Float, Int, field_error

Shape = tuple[int, ...]  # one sample without the batch dimension: (C, H, W) for images, (F,) flat


class _Block(BaseModel):
    """Common settings of every block: immutable, unknown parameters refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    HELP: ClassVar[str] = ""


class Linear(_Block):
    """nn.Linear(in_features, out_features, bias): (F,) → (out_features,); needs flat input."""

    HELP: ClassVar[str] = (
        "Fully connected layer: every output is a weighted sum of all inputs; needs flat features (add a "
        "Flatten first). The last Linear gives one output per class."
    )
    type: Literal["Linear"] = "Linear"
    in_features: Int = Field(ge=1, le=65536, description="Number of inputs: the width the block before gives.")
    out_features: Int = Field(ge=1, le=65536, description="Number of outputs (one per class for the last one).")
    bias: Bool = Field(default=True, description="Learn an offset added to each output.")


class Conv2d(_Block):
    """nn.Conv2d(in_channels, out_channels, kernel_size, stride, padding, dilation, bias): square kernels,
    (C, H, W) → (out_channels, H', W') with H' = floor((H + 2·padding − dilation·(kernel_size − 1) − 1) /
    stride + 1)."""

    HELP: ClassVar[str] = (
        "2D convolution: slides small learned filters over the image to detect local patterns such as edges; "
        "each filter gives one output channel."
    )
    type: Literal["Conv2d"] = "Conv2d"
    in_channels: Int = Field(ge=1, le=4096, description="Channels of the input: what the block before gives.")
    out_channels: Int = Field(ge=1, le=4096, description="Number of filters, i.e. channels of the output.")
    kernel_size: Int = Field(ge=1, le=31, description="Width and height of each (square) filter, in pixels.")
    stride: Int = Field(default=1, ge=1, le=16, description="Step between filter positions; 2 halves the size.")
    padding: Int = Field(default=0, ge=0, le=31, description="Zero pixels added on every side of the input.")
    dilation: Int = Field(default=1, ge=1, le=16, description="Spacing between filter taps; 1 is a plain filter.")
    bias: Bool = Field(default=True, description="Learn an offset added to each output channel.")


class _Pool(_Block):
    """Square pooling window; `stride` None means kernel_size, as in torch. padding ≤ kernel_size / 2."""

    kernel_size: Int = Field(ge=1, le=31, description="Width and height of the (square) pooling window.")
    stride: Annotated[Int, Field(ge=1, le=16)] | None = Field(
        default=None, description="Step between windows; empty means the same as kernel_size."
    )
    padding: Int = Field(default=0, ge=0, le=15, description="Pixels added on every side; at most half of kernel_size.")


class MaxPool2d(_Pool):
    """nn.MaxPool2d(kernel_size, stride, padding): (C, H, W) → (C, H', W')."""

    HELP: ClassVar[str] = (
        "Max pooling: keeps the largest value of each window, shrinking the image (kernel_size 2 halves it). "
        "Leave stride empty to use kernel_size."
    )
    type: Literal["MaxPool2d"] = "MaxPool2d"


class AvgPool2d(_Pool):
    """nn.AvgPool2d(kernel_size, stride, padding): (C, H, W) → (C, H', W')."""

    HELP: ClassVar[str] = (
        "Average pooling: replaces each window by its mean, shrinking the image (kernel_size 2 halves it). "
        "Leave stride empty to use kernel_size."
    )
    type: Literal["AvgPool2d"] = "AvgPool2d"


class _BatchNorm(_Block):
    num_features: Int = Field(ge=1, le=65536, description="Channels (or features) of the input.")
    eps: Float = Field(default=1e-5, gt=0.0, le=1.0, description="Small number added to the variance.")
    momentum: Float = Field(
        default=0.1, ge=0.0, le=1.0, description="How fast the running mean and variance follow new batches."
    )


class BatchNorm1d(_BatchNorm):
    """nn.BatchNorm1d(num_features, eps, momentum) on flat features: (F,) → (F,)."""

    HELP: ClassVar[str] = (
        "Batch normalisation of flat features: rescales each feature to zero mean and unit variance; "
        "often makes training faster and more stable."
    )
    type: Literal["BatchNorm1d"] = "BatchNorm1d"


class BatchNorm2d(_BatchNorm):
    """nn.BatchNorm2d(num_features, eps, momentum) on images: (C, H, W) → (C, H, W)."""

    HELP: ClassVar[str] = (
        "Batch normalisation of image channels: rescales each channel to zero mean and unit variance; "
        "often makes training faster and more stable. Usually placed right after a Conv2d."
    )
    type: Literal["BatchNorm2d"] = "BatchNorm2d"


class Dropout(_Block):
    """nn.Dropout(p): any shape, unchanged; active in training only."""

    HELP: ClassVar[str] = (
        "Dropout: during training, zeroes a random fraction p of the values to reduce overfitting; does "
        "nothing at prediction time."
    )
    type: Literal["Dropout"] = "Dropout"
    p: Float = Field(default=0.5, ge=0.0, lt=1.0, description="Fraction of values zeroed during training.")


class Flatten(_Block):
    """nn.Flatten(1): (C, H, W) → (C·H·W,); flat input stays as it is."""

    HELP: ClassVar[str] = (
        "Flatten: turns an image-shaped output (channels x height x width) into one flat list of features, "
        "as Linear blocks need."
    )
    type: Literal["Flatten"] = "Flatten"


class ReLU(_Block):
    """nn.ReLU(): any shape, unchanged."""

    HELP: ClassVar[str] = "ReLU activation: keeps positive values and sets negative ones to 0; the usual choice."
    type: Literal["ReLU"] = "ReLU"


class Sigmoid(_Block):
    """nn.Sigmoid(): any shape, unchanged."""

    HELP: ClassVar[str] = "Sigmoid activation: squashes every value into 0..1."
    type: Literal["Sigmoid"] = "Sigmoid"


class Tanh(_Block):
    """nn.Tanh(): any shape, unchanged."""

    HELP: ClassVar[str] = "Tanh activation: squashes every value into -1..1."
    type: Literal["Tanh"] = "Tanh"


class LeakyReLU(_Block):
    """nn.LeakyReLU(negative_slope): any shape, unchanged."""

    HELP: ClassVar[str] = (
        "Leaky ReLU activation: like ReLU, but negative values are multiplied by a small slope instead of becoming 0."
    )
    type: Literal["LeakyReLU"] = "LeakyReLU"
    negative_slope: Float = Field(default=0.01, ge=0.0, le=1.0, description="Factor applied to negative values.")


class Softmax(_Block):
    """nn.Softmax(dim=1): any shape, unchanged (over channels or features)."""

    HELP: ClassVar[str] = (
        "Softmax: turns values into probabilities that sum to 1. Not needed at the end of a classifier "
        "(training and prediction apply it already)."
    )
    type: Literal["Softmax"] = "Softmax"


BLOCK_TYPES: Final[tuple[str, ...]] = (
    "Linear",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "BatchNorm1d",
    "BatchNorm2d",
    "Dropout",
    "Flatten",
    "ReLU",
    "LeakyReLU",
    "Sigmoid",
    "Tanh",
    "Softmax",
)
BLOCK_MODELS: Final[dict[str, type[_Block]]] = {
    model.model_fields["type"].default: model
    for model in (
        Linear,
        Conv2d,
        MaxPool2d,
        AvgPool2d,
        BatchNorm1d,
        BatchNorm2d,
        Dropout,
        Flatten,
        ReLU,
        Sigmoid,
        Tanh,
        LeakyReLU,
        Softmax,
    )
}
IMAGE_BLOCKS: Final[tuple[type[_Block], ...]] = (Conv2d, MaxPool2d, AvgPool2d, BatchNorm2d)
UNIT_STARTS: Final[tuple[type[_Block], ...]] = (Conv2d, Linear)


def _dispatch(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Validate one block by its "type" so that error paths read ``blocks[2].kernel_size`` (pydantic's
    tagged union would add the tag: ``blocks[2].Conv2d.kernel_size``)."""
    if isinstance(value, _Block):
        return value
    if not isinstance(value, Mapping):
        return handler(value)
    kind = value.get("type")
    if isinstance(kind, str) and kind in BLOCK_MODELS:
        return BLOCK_MODELS[kind].model_validate(dict(value))
    known = ", ".join(BLOCK_TYPES)
    if "type" not in value:
        raise field_error("type", f"is required: one of {known}")
    close = [name for name in BLOCK_TYPES if isinstance(kind, str) and name.lower() == kind.lower()]
    hint = f"; did you mean {close[0]!r}?" if close else f"; use one of {known}"
    raise field_error("type", f"is not a block type (got {kind!r}){hint}")


Block = Annotated[
    Linear
    | Conv2d
    | MaxPool2d
    | AvgPool2d
    | BatchNorm1d
    | BatchNorm2d
    | Dropout
    | Flatten
    | ReLU
    | Sigmoid
    | Tanh
    | LeakyReLU
    | Softmax,
    Field(discriminator="type"),
    WrapValidator(_dispatch),
]
