"""The edit step for `classifier.resnet`: one weight edit on the version's float weights, published as a
new version (an INT8 version keeps its activation scales: the edited layer is re-quantized at load).

Writes under `work_dir/outputs`: `weights.safetensors` and `config.json` (the new version) and
`edit.json` (the edit, the tensors it changed, and each one's statistics and changed elements before
and after).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flows.kinds.classifier.common import DERIVED_WEIGHTS, load_float_model, save_version
from flows.steps.prepare import Prepared
from flows.steps.records import VersionProduct
from flows.steps.reporting import Reporter

if TYPE_CHECKING:
    import torch

EDIT_SCHEMA = "model-commons/weight-edit/1"


def edit_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.classifier.config import parse_classifier_config
    from resources.classifier.tools.edit_spec import parse_edit_params
    from resources.classifier.tools.weight_edit import apply_weight_edit, changed_tensors

    config = parse_classifier_config(prepared.config)
    params = parse_edit_params(prepared.params, arch=config.arch, num_classes=len(config.classes))
    model = load_float_model(prepared, config, device="cpu")
    before = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
    after = apply_weight_edit(before, params.edit)
    model.load_state_dict(after)
    changed = changed_tensors(before, after)
    report.progress(0.5)

    out = prepared.outputs
    out.mkdir(parents=True, exist_ok=True)
    weights = out / DERIVED_WEIGHTS
    edited_config = config.model_copy(update={"checkpoint": DERIVED_WEIGHTS})
    config_dict = save_version(model, edited_config, out=out, weights_name=DERIVED_WEIGHTS)
    summary = {
        "schema": EDIT_SCHEMA,
        "parent": prepared.reference(),
        "edit": params.edit.model_dump(mode="json"),
        "changed": [
            {
                "tensor": name,
                "shape": list(before[name].shape),
                "changed_elements": int((before[name] != after[name]).sum()),
                "before": _stats(before[name]),
                "after": _stats(after[name]),
            }
            for name in changed
        ],
        "unchanged_tensors": len(before) - len(changed),
    }
    (out / "edit.json").write_text(json.dumps(summary, indent=2))
    prepared.product = VersionProduct(
        weights=weights,
        config=config_dict,
        reported_metrics={},  # the parent's figures do not hold for edited weights: evaluate the new version
        dataset=None,
        split=None,
        publish_as=params.publish_as,
    )
    report.progress(1.0)
    return [weights, out / "config.json", out / "edit.json"]


def _stats(tensor: torch.Tensor) -> dict[str, Any]:
    values = tensor.detach().double()
    return {
        "min": float(values.min()),
        "max": float(values.max()),
        "mean": float(values.mean()),
        "std": float(values.std()) if values.numel() > 1 else 0.0,
    }
