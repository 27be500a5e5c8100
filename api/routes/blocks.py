"""Layer blocks of `classifier.blocks` models: the catalog the Build page renders, and live validation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body

from api.deps import SettingsDep

router = APIRouter(prefix="/blocks", tags=["blocks"])


@router.get("/catalog")
def catalog() -> dict[str, Any]:
    """Every block type: its one-line help and its parameters (name, type, required, default, range, help)."""
    from resources.classifier.blocks.catalog import catalog as block_catalog

    return {"blocks": block_catalog()}


@router.post("/validate")
def validate(
    config: Annotated[
        dict[str, Any],
        Body(
            description="A classifier.blocks config (input_channels, input_size, blocks, optional classes).",
            examples=[
                {
                    "input_channels": 1,
                    "input_size": 28,
                    "blocks": [
                        {"type": "Conv2d", "in_channels": 1, "out_channels": 8, "kernel_size": 3, "padding": 1},
                        {"type": "ReLU"},
                        {"type": "MaxPool2d", "kernel_size": 2},
                        {"type": "Flatten"},
                        {"type": "Linear", "in_features": 1568, "out_features": 10},
                    ],
                }
            ],
        ),
    ],
    settings: SettingsDep,
) -> dict[str, Any]:
    """Infer every block's output shape and parameter count. Always 200: `valid` says whether the config can
    run; `errors` name the block and the reason (shapes are given up to the first failing block). For a valid
    config, `memory` gives the activation memory one photo needs to predict and to train and which lanes it
    fits; a model no lane can run is not valid (the error names the block, as an upload would)."""
    from resources.classifier.blocks.catalog import validation_report
    from services.kinds import blocks_memory_report

    report = validation_report(config)
    if report["valid"]:
        memory = blocks_memory_report(config, settings=settings)
        report["memory"] = memory
        if memory["refused"] is not None:
            report["valid"] = False
            field = memory["refused"]["field"] or "config"
            block = int(field.split("[")[1].rstrip("]")) + 1 if field.startswith("config.blocks[") else None
            report["errors"].append({"message": memory["refused"]["message"], "field": field, "block": block})
        elif not memory["warm_lane"]:
            report["warnings"].append(
                f"{memory['largest']}: predicting needs more memory than the warm lane allows, so its tasks run "
                "on the batch lane (seconds to start rather than a fraction of one)"
            )
    return report
