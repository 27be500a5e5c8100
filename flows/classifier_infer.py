"""The infer step for `classifier.resnet`: top-k classes with probabilities for every input photo."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

from commons.errors import InvalidWeights
from commons.image_io import decode_image
from flows.prepare import Prepared


def infer_classifier(prepared: Prepared, *, max_image_pixels: int, on_progress: Callable[[float], None]) -> list[Path]:
    """Write `predictions.json` under `work_dir/outputs`: per photo, the `top_k` most probable classes."""
    from resources.classifier.config import parse_classifier_config, parse_predict_params
    from resources.classifier.evaluate import predict
    from resources.classifier.model import build_classifier

    config = parse_classifier_config(prepared.config)
    params = parse_predict_params(prepared.params)
    weights_path = None
    if config.checkpoint is not None:
        weights = prepared.weights.get(config.checkpoint)
        if weights is None:
            raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
        weights_path = weights.path
    started = time.perf_counter()
    model = build_classifier(config, weights_path, device=prepared.device)
    prepared.timings["model_load_s"] = round(time.perf_counter() - started, 4)
    started = time.perf_counter()
    images = [
        decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_image_pixels)
        for item in prepared.inputs
    ]
    on_progress(0.5)
    top = predict(
        model, images=images, config=config, device=prepared.device, top_k=params.top_k, batch_size=params.batch_size
    )
    prepared.timings["predict_s"] = round(time.perf_counter() - started, 4)
    report = {
        "resource": {k: prepared.resource[k] for k in ("name", "version", "digest")},
        "weights": "from config.init_seed (architecture-only version)" if weights_path is None else config.checkpoint,
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
    out = prepared.work_dir / "outputs" / "predictions.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2))
    on_progress(1.0)
    return [out]
