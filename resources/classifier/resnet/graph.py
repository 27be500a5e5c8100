"""A float ResNet's graph as JSON for a web UI to draw, at leaf-module level, linked to the inspection units.

`torch.fx.symbolic_trace` gives the graph (one node per leaf-module call, per function call such as the
residual `add` and `flatten`, plus the input and output); `ShapeProp` runs a 1x3xSxS zero image through
it to record every node's output shape. Each node carries the `resnet_units` unit it belongs to
("stem", "layer1.0", …, "pool", "fc"), which is the `name` of the matching `inspect_layers` record.
"""

from __future__ import annotations

from typing import Any, Final

import torch
from torch import fx, nn
from torch.fx.passes.shape_prop import ShapeProp, TensorMetadata
from torchvision.models import ResNet

from commons.errors import InvalidInput
from resources.classifier.resnet.units import resnet_units

MIN_INPUT: Final[int] = 16
MAX_INPUT: Final[int] = 1024
_OPS: Final[dict[str, str]] = {
    "placeholder": "input",
    "call_module": "module",
    "call_function": "function",
    "call_method": "method",
    "output": "output",
}


def model_graph(model: ResNet, *, input_size: int) -> dict[str, Any]:
    """The model's dataflow graph for a 1x3xSxS float32 input (S = `input_size`, 16…1024).

    Returns ``{"input_shape": [1, 3, S, S], "units": [unit names in order], "nodes": [...], "edges": [...]}``.
    A node: ``{"id", "name", "op", "type", "output_shape", "parameters", "unit"}`` — `id` unique (the FX
    node name, e.g. "layer1_0_relu_1"); `name` the module path ("layer1.0.conv1"; a module called twice,
    like a block's relu, gives two nodes of one name), "<block>.add" for a residual addition, "input",
    "output"; `op` one of input / module / function / method / output; `type` the module class
    ("Conv2d") or function name ("add", "flatten"); `output_shape` NCHW or NC list of ints; `parameters`
    the module's parameter count (0 for functions and for a repeated call of one module); `unit` the unit
    name (the input node belongs to "stem", the output node to the last unit). An edge is
    ``[source id, target id]``; edges run from each node's inputs to it, nodes are in execution order.
    The model is traced as is (its weights and mode are left unchanged; shapes are run in eval mode).
    """
    if not isinstance(model, ResNet):
        raise InvalidInput(f"model: the graph needs a torchvision ResNet (got {type(model).__name__})", field="model")
    if isinstance(input_size, bool) or not isinstance(input_size, int) or not MIN_INPUT <= input_size <= MAX_INPUT:
        raise InvalidInput(
            f"input_size: must be an integer from {MIN_INPUT} to {MAX_INPUT} (got {input_size!r})", field="input_size"
        )
    units = resnet_units(model)
    unit_of_module = {id(module): name for name, unit in units for module in unit.modules()}
    traced = fx.symbolic_trace(model)
    parameter = next(model.parameters(), None)
    example = torch.zeros(1, 3, input_size, input_size, device=parameter.device if parameter is not None else "cpu")
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            ShapeProp(traced).propagate(example)
    finally:
        model.train(was_training)

    nodes: list[dict[str, Any]] = []
    edges: list[list[str]] = []
    unit_of_node: dict[str, str] = {}
    counted: set[str] = set()
    for node in traced.graph.nodes:
        unit = _unit(node, model, unit_of_module, unit_of_node, first=units[0][0], last=units[-1][0])
        unit_of_node[node.name] = unit
        name, kind, parameters = _describe(node, model, counted)
        nodes.append(
            {
                "id": node.name,
                "name": name,
                "op": _OPS.get(node.op, node.op),
                "type": kind,
                "output_shape": _shape(node),
                "parameters": parameters,
                "unit": unit,
            }
        )
        edges.extend([source.name, node.name] for source in node.all_input_nodes)
    return {
        "input_shape": list(example.shape),
        "units": [name for name, _ in units],
        "nodes": nodes,
        "edges": edges,
    }


def _describe(node: fx.Node, model: nn.Module, counted: set[str]) -> tuple[str, str, int]:
    """(name, type, parameter count) of one FX node."""
    if node.op == "placeholder":
        return "input", "input", 0
    if node.op == "output":
        return "output", "output", 0
    if node.op == "call_module":
        path = str(node.target)
        module = model.get_submodule(path)
        parameters = 0 if path in counted else sum(p.numel() for p in module.parameters())
        counted.add(path)
        return path, type(module).__name__, parameters
    label = str(getattr(node.target, "__name__", node.target))
    scope = _scope(node)
    return (f"{scope}.{label}" if scope else label), label, 0


def _unit(
    node: fx.Node,
    model: nn.Module,
    unit_of_module: dict[int, str],
    unit_of_node: dict[str, str],
    *,
    first: str,
    last: str,
) -> str:
    """The unit a node belongs to: its module's (or enclosing module's) unit, else its first input's."""
    if node.op == "placeholder":
        return first
    path = str(node.target) if node.op == "call_module" else _scope(node)
    if path:
        found = unit_of_module.get(id(model.get_submodule(path)))
        if found is not None:
            return found
    inputs = node.all_input_nodes
    return unit_of_node[inputs[0].name] if inputs else last


def _scope(node: fx.Node) -> str:
    """The path of the innermost module whose forward made this node ("" at the model's top level)."""
    stack = node.meta.get("nn_module_stack") or {}
    if not stack:
        return ""
    path, _ = list(stack.values())[-1]
    return str(path)


def _shape(node: fx.Node) -> list[int] | None:
    meta = node.meta.get("tensor_meta")
    if isinstance(meta, TensorMetadata):
        return [int(size) for size in meta.shape]
    if node.op == "output" and node.all_input_nodes:
        return _shape(node.all_input_nodes[0])
    return None
