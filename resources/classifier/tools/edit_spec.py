"""The schema of a weight edit and its checks against a model's tensor names and shapes (no torch).

The API validates an edit at submission with `check_edit(edit, tensors=resnet_tensors(arch, classes))`,
so an unknown layer or an index out of range is refused before any task runs; `weight_edit` applies it.

A `WeightEdit` names a `layer` and an `op`::

    {"layer": "layer1.0.conv1", "op": {"kind": "scale", "factor": 0.5}}
    {"layer": "fc.bias",        "op": {"kind": "clip", "low": -0.1, "high": 0.1}}
    {"layer": "fc",             "op": {"kind": "set", "index": [2, 17], "value": 0.0}}

`layer` is either a full tensor name of the state dict ("fc.bias", "bn1.running_mean") — that tensor
alone — or a layer (module) name ("layer1.0.conv1", "fc", "bn1") — its own learnable tensors
`<layer>.weight` and `<layer>.bias` (where present; BatchNorm running statistics only by full name).
`scale` and `clip` apply to every targeted tensor; `set` changes one element and, given a layer name,
addresses `<layer>.weight` (name "fc.bias" to set a bias). Blocks such as "layer1.0" are not layers:
edit one of their layers. Only floating-point tensors can be edited.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, Strict, field_validator, model_validator

from commons.errors import InvalidInput
from resources.classifier.config import check_slug
from resources.schema import Float, field_error, parse_model

_LEARNABLE: Final[tuple[str, ...]] = ("weight", "bias")
_SHOWN: Final[int] = 5
Index = Annotated[int, Strict(), Field(ge=0)]


@dataclass(frozen=True)
class TensorInfo:
    """What the checks need of a state-dict entry: its shape and whether it holds floating-point values."""

    shape: tuple[int, ...]
    floating: bool = True


class ScaleOp(BaseModel):
    """Multiply every element by `factor` (finite)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["scale"]
    factor: Float


class ClipOp(BaseModel):
    """Clamp every element into [low, high] (finite, low ≤ high)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["clip"]
    low: Float
    high: Float

    @model_validator(mode="after")
    def _ordered(self) -> ClipOp:
        if self.low > self.high:
            raise field_error(
                "low", f"must be ≤ high (got low {self.low}, high {self.high}); swap them or widen the range"
            )
        return self


class SetOp(BaseModel):
    """Set the element at `index` (one non-negative integer per dimension of the tensor) to `value` (finite)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["set"]
    index: list[Index] = Field(min_length=1, max_length=8)
    value: Float


class WeightEdit(BaseModel):
    """One edit: `layer` (a layer name or a full tensor name, see the module docstring) and `op`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    layer: str = Field(min_length=1, max_length=200)
    op: ScaleOp | ClipOp | SetOp = Field(discriminator="kind")


def parse_weight_edit(raw: Mapping[str, Any]) -> WeightEdit:
    """Validate a request body; errors become InvalidInput naming `edit.<path>` (e.g. ``edit.op.clip.low``)."""
    return parse_model(WeightEdit, raw, prefix="edit")


def target_tensors(tensors: Mapping[str, TensorInfo], edit: WeightEdit) -> list[str]:
    """The tensor names `edit` changes, in state-dict order; InvalidInput when `edit.layer` names none,
    names a tensor that is not floating point, or (`set`) gives an index that does not fit the tensor."""
    layer = edit.layer
    if layer in tensors:
        names = [layer]
    else:
        names = [name for name in tensors if name.rpartition(".")[0] == layer and name.rpartition(".")[2] in _LEARNABLE]
        if isinstance(edit.op, SetOp):
            names = [name for name in names if name.endswith(".weight")]
    if not names:
        raise InvalidInput(_unknown_layer(tensors, layer), field="edit.layer")
    for name in names:
        if not tensors[name].floating:
            raise InvalidInput(
                f"edit.layer: {name} holds integer values, not weights; edit a floating-point "
                "tensor (a layer's weight or bias)",
                field="edit.layer",
            )
        if isinstance(edit.op, SetOp):
            element_index(name, tensors[name].shape, edit.op.index)
    return names


def check_edit(raw: Mapping[str, Any], *, tensors: Mapping[str, TensorInfo]) -> WeightEdit:
    """Validate `raw` as a WeightEdit and against the model's tensors; returns the edit."""
    edit = parse_weight_edit(raw)
    target_tensors(tensors, edit)
    return edit


def resnet_tensors(arch: str, *, num_classes: int) -> dict[str, TensorInfo]:
    """The state dict of torchvision's `arch` ("resnet18", "resnet34", "resnet50") with `num_classes`
    outputs, as names and shapes, in state-dict order (checked against torch in the tests)."""
    bottleneck = arch == "resnet50"
    blocks = {"resnet18": (2, 2, 2, 2), "resnet34": (3, 4, 6, 3), "resnet50": (3, 4, 6, 3)}[arch]
    expansion = 4 if bottleneck else 1
    tensors: dict[str, TensorInfo] = {"conv1.weight": TensorInfo((64, 3, 7, 7))}
    tensors |= _batch_norm("bn1", 64)
    in_channels = 64
    for stage, count in enumerate(blocks):
        width = 64 * 2**stage
        for index in range(count):
            prefix = f"layer{stage + 1}.{index}"
            if bottleneck:
                convs = [(in_channels, width, 1), (width, width, 3), (width, width * expansion, 1)]
            else:
                convs = [(in_channels, width, 3), (width, width, 3)]
            for number, (cin, cout, k) in enumerate(convs, start=1):
                tensors[f"{prefix}.conv{number}.weight"] = TensorInfo((cout, cin, k, k))
                tensors |= _batch_norm(f"{prefix}.bn{number}", cout)
            if index == 0 and (stage > 0 or in_channels != width * expansion):
                tensors[f"{prefix}.downsample.0.weight"] = TensorInfo((width * expansion, in_channels, 1, 1))
                tensors |= _batch_norm(f"{prefix}.downsample.1", width * expansion)
            in_channels = width * expansion
    tensors["fc.weight"] = TensorInfo((num_classes, in_channels))
    tensors["fc.bias"] = TensorInfo((num_classes,))
    return tensors


def _batch_norm(prefix: str, channels: int) -> dict[str, TensorInfo]:
    return {
        **{f"{prefix}.{name}": TensorInfo((channels,)) for name in ("weight", "bias", "running_mean", "running_var")},
        f"{prefix}.num_batches_tracked": TensorInfo((), floating=False),
    }


def element_index(name: str, shape_of: tuple[int, ...], index: list[int]) -> tuple[int, ...]:
    """`index` as a tuple when it addresses one element of a tensor of shape `shape_of`; else InvalidInput."""
    shape = list(shape_of)
    if len(index) != len(shape):
        raise InvalidInput(
            f"edit.op.index: {name} has shape {shape}, so the index needs {len(shape)} integer(s) (got {len(index)})",
            field="edit.op.index",
        )
    for dim, (position, size) in enumerate(zip(index, shape, strict=True)):
        if not 0 <= position < size:
            raise InvalidInput(
                f"edit.op.index[{dim}]: {position} is out of range for {name} of shape {shape}; use 0 to {size - 1}",
                field=f"edit.op.index[{dim}]",
            )
    return tuple(index)


def _unknown_layer(state_dict: Mapping[str, TensorInfo], layer: str) -> str:
    layers = list(
        dict.fromkeys(name.rpartition(".")[0] for name in state_dict if name.rpartition(".")[2] in _LEARNABLE)
    )
    close = difflib.get_close_matches(layer, [*layers, *state_dict], n=_SHOWN, cutoff=0.6)
    children = [name for name in layers if name.startswith(f"{layer}.")]
    if children:
        hint = f"{layer} is a block, not a layer; name one of its layers, e.g. {', '.join(children[:_SHOWN])}"
    elif close:
        hint = f"did you mean {', '.join(close)}?"
    else:
        hint = f"the layers are {', '.join(layers[:_SHOWN])}, …, {layers[-1]}" if layers else "the state dict is empty"
    return f"edit.layer: no layer or tensor named {layer!r} in the model; {hint}"


class EditParams(BaseModel):
    """What an edit task asks for: one `edit`; the edited model becomes the next version of the resource
    (the caller needs `modify`) or of `publish_as`, a resource of theirs."""

    model_config = ConfigDict(extra="forbid")

    edit: WeightEdit
    publish_as: str | None = None

    @field_validator("publish_as")
    @classmethod
    def _slug(cls, value: str | None) -> str | None:
        return check_slug(value)


def parse_edit_params(raw: Mapping[str, Any], *, arch: str, num_classes: int) -> EditParams:
    """Validate an edit task's parameters, the edit against the model's tensors; errors name `params.<path>`."""
    params = parse_model(EditParams, raw, prefix="params")
    try:
        target_tensors(resnet_tensors(arch, num_classes=num_classes), params.edit)
    except InvalidInput as error:
        raise InvalidInput(f"params.{error.message}", field=f"params.{error.field}") from error
    return params
