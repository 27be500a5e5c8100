"""The infer step for classifiers (`classifier.resnet`, `classifier.blocks`): top-k classes with
probabilities for every input photo."""

from __future__ import annotations

import json
from pathlib import Path

from commons.image_io import decode_image
from flows.kinds.classifier.common import load_model, model_device, parse_config
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter


def infer_classifier(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    """Write `predictions.json` under `work_dir/outputs`: per photo, the `top_k` most probable classes."""
    from resources.classifier.config import parse_predict_params
    from resources.classifier.evaluate import predict

    config = parse_config(prepared)
    params = parse_predict_params(prepared.params)
    model = load_model(prepared, config)
    with prepared.timed("predict"):
        images = [
            decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_image_pixels)
            for item in prepared.inputs
        ]
        report.progress(0.5)
        top = predict(
            model,
            images=images,
            config=config,
            device=model_device(prepared, config),
            top_k=params.top_k,
            batch_size=params.batch_size,
        )
    summary = {
        "resource": prepared.reference(),
        "weights": "from config.init_seed (architecture-only version)"
        if config.checkpoint is None
        else config.checkpoint,
        "classes": list(config.classes),
        "params": params.model_dump(mode="json"),
        "predictions": [
            {
                "image": {
                    "name": item.name,
                    "sha256": item.file.sha256,
                    "width": int(image.shape[1]),
                    "height": int(image.shape[0]),
                },
                "top": ranked,
            }
            for item, image, ranked in zip(prepared.inputs, images, top, strict=True)
        ],
    }
    out = prepared.outputs / "predictions.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    report.progress(1.0)
    return [out]
