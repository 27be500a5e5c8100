"""What the Build page renders and asks: the catalog of block types, and the validation report."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from pydantic import ValidationError

from commons.errors import InvalidInput
from resources.classifier.blocks.layer_types import BLOCK_MODELS, BLOCK_TYPES, Block, Sigmoid, Softmax
from resources.classifier.blocks.shapes import check_head, infer_partial
from resources.classifier.blocks.spec import BlocksConfig, StackSpec
from resources.schema import describe_error

_BLOCK_FIELD: Final = re.compile(r"config\.blocks\[(\d+)\]")


def catalog() -> list[dict[str, Any]]:
    """Every block type with a one-line help and its parameters (name, JSON type, required, default,
    minimum/maximum and exclusive bounds where set, help), taken from the pydantic models themselves."""
    entries = []
    for name in BLOCK_TYPES:
        model = BLOCK_MODELS[name]
        schema = model.model_json_schema()
        required = set(schema.get("required", []))
        parameters = []
        for field, spec in schema["properties"].items():
            if field == "type":
                continue
            value = next((option for option in spec.get("anyOf", []) if option.get("type") != "null"), spec)
            parameter: dict[str, Any] = {
                "name": field,
                "type": value["type"],
                "required": field in required,
                "default": spec.get("default"),
            }
            if value is not spec:
                parameter["nullable"] = True
            for key, shown in (
                ("minimum", "minimum"),
                ("maximum", "maximum"),
                ("exclusiveMinimum", "exclusive_minimum"),
                ("exclusiveMaximum", "exclusive_maximum"),
            ):
                if key in value:
                    parameter[shown] = value[key]
            parameter["help"] = spec.get("description", "")
            parameters.append(parameter)
        entries.append({"type": name, "help": model.HELP, "parameters": parameters})
    return entries


def validation_report(raw: Mapping[str, Any]) -> dict[str, Any]:
    """What ``POST /api/v1/blocks/validate`` answers; never raises for bad content.

    {"valid", "input_shape": [C, S, S] | None, "blocks": [{"index", "type", "output_shape", "parameters"}]
    up to the first block that cannot run, "output_shape" (of the last block, None unless every block
    ran), "parameters" (total over those blocks), "errors": [{"message", "field", "block" (1-based or
    None)}], "warnings": [str]}.
    """
    report: dict[str, Any] = {
        "valid": False,
        "input_shape": None,
        "blocks": [],
        "output_shape": None,
        "parameters": 0,
        "errors": [],
        "warnings": [],
    }
    if not isinstance(raw, Mapping):
        report["errors"].append(_error(f"config must be a JSON object (got {type(raw).__name__})", "config"))
        return report
    problems: list[tuple[str, str]] = []
    try:
        BlocksConfig.model_validate(dict(raw))
    except ValidationError as exc:
        problems.extend((message, field) for field, message in (describe_error(e, "config") for e in exc.errors()))
    except InvalidInput as exc:
        problems.append((exc.message, exc.field or "config"))
    try:
        stack: StackSpec | None = StackSpec.model_validate(dict(raw))
    except ValidationError:
        stack = None
    if stack is not None:
        report["input_shape"] = [stack.input_channels, stack.input_size, stack.input_size]
        shapes, problem = infer_partial(stack.input_channels, stack.input_size, stack.blocks)
        if problem is None:
            report["output_shape"] = list(shapes[-1].output_shape)
            try:
                check_head(stack.blocks, shapes, classes=None)
            except InvalidInput as exc:
                problem = exc
        if problem is not None and all(message != problem.message for message, _ in problems):
            problems.append((problem.message, problem.field or "config.blocks"))
        report["blocks"] = [
            {"index": s.index, "type": s.type, "output_shape": list(s.output_shape), "parameters": s.parameters}
            for s in shapes
        ]
        report["parameters"] = sum(s.parameters for s in shapes)
        report["warnings"] = _warnings(stack.blocks)
    report["errors"] = [_error(message, field) for message, field in problems]
    report["valid"] = not problems
    return report


def _error(message: str, field: str) -> dict[str, Any]:
    found = _BLOCK_FIELD.match(field)
    return {"message": message, "field": field, "block": int(found.group(1)) + 1 if found else None}


def _warnings(blocks: Sequence[Block]) -> list[str]:
    last, count = blocks[-1], len(blocks)
    if isinstance(last, Softmax):
        return [
            f"block {count} Softmax: training applies softmax inside its loss; ending with Softmax makes "
            "training slower and probabilities flatter — remove it"
        ]
    if isinstance(last, Sigmoid):
        return [
            f"block {count} Sigmoid: training applies softmax inside its loss; ending with Sigmoid squeezes "
            "the logits into 0..1, which makes training slower and probabilities flatter — remove it"
        ]
    return []
