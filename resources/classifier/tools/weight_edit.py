"""Apply a weight edit (`resources.classifier.tools.edit_spec`) to a float classifier's state dict: the edited
tensors are new, the rest shared; then re-run or re-inspect the model to see what the edit did."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch

from commons.errors import InvalidInput
from resources.classifier.tools.edit_spec import (
    ClipOp,
    ScaleOp,
    SetOp,
    TensorInfo,
    WeightEdit,
    element_index,
    parse_weight_edit,
    target_tensors,
)

__all__ = ["WeightEdit", "apply_weight_edit", "changed_tensors", "parse_weight_edit"]


def apply_weight_edit(
    state_dict: Mapping[str, torch.Tensor], edit: WeightEdit | Mapping[str, Any]
) -> dict[str, torch.Tensor]:
    """Return a new state dict with `edit` applied; `state_dict` is left untouched.

    The targeted tensors are new tensors (same shape, dtype and device); every other entry is the very
    tensor object of `state_dict` (not a copy). `edit`: a WeightEdit, or a mapping validated as one.
    Raises InvalidInput for an unknown layer (with close names), an index of the wrong length or out of
    range, a non-finite value, clip low > high, or a result that overflows to ±inf.
    """
    checked = edit if isinstance(edit, WeightEdit) else parse_weight_edit(edit)
    op = checked.op
    # a WeightEdit built with model_construct skips validation; refuse non-finite numbers here as well
    numbers = {"scale": ("factor",), "clip": ("low", "high"), "set": ("value",)}[op.kind]
    for key in numbers:
        number = getattr(op, key)
        if not isinstance(number, int | float) or not math.isfinite(number):
            raise InvalidInput(f"edit.op.{key}: must be a finite number (got {number!r})", field=f"edit.op.{key}")
    if isinstance(op, ClipOp) and op.low > op.high:
        raise InvalidInput(f"edit.op.low: must be ≤ high (got low {op.low}, high {op.high})", field="edit.op.low")
    edited = dict(state_dict)
    infos = {name: TensorInfo(tuple(t.shape), t.is_floating_point()) for name, t in state_dict.items()}
    for name in target_tensors(infos, checked):
        edited[name] = _apply(name, state_dict[name], op)
    return edited


def changed_tensors(before: Mapping[str, torch.Tensor], after: Mapping[str, torch.Tensor]) -> list[str]:
    """Names whose tensors differ (values, shape or dtype) or that only one side has; `before`'s order first."""
    changed = []
    for name, tensor in before.items():
        other = after.get(name)
        if (
            other is None
            or other.shape != tensor.shape
            or other.dtype != tensor.dtype
            or not torch.equal(other.to(tensor.device), tensor)
        ):
            changed.append(name)
    changed.extend(name for name in after if name not in before)
    return changed


def _apply(name: str, tensor: torch.Tensor, op: ScaleOp | ClipOp | SetOp) -> torch.Tensor:
    if isinstance(op, ScaleOp):
        result = tensor * op.factor
    elif isinstance(op, ClipOp):
        result = tensor.clamp(op.low, op.high)
    else:
        result = tensor.clone()
        result[element_index(name, tuple(tensor.shape), op.index)] = op.value
    if not bool(torch.isfinite(result).all()) and bool(torch.isfinite(tensor).all()):
        raise InvalidInput(
            f"edit.op: the result overflows {tensor.dtype} in {name} (values become ±inf); "
            "use a smaller factor or value",
            field="edit.op",
        )
    return result
