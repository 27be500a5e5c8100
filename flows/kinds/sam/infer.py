"""The infer step for `segmenter.sam`: masks for every input, rendered to files in the work folder."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from commons.errors import InvalidWeights
from commons.image_io import decode_image
from flows.steps.model_cache import cached_model
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter


def infer_sam(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    """Write `<stem>/hard.png`, `blended.png`, `labels.png`, `segments.json` under `work_dir/outputs`."""
    from resources.sam.config import parse_infer_params, parse_sam_config
    from resources.sam.infer import segment_auto, segment_prompt
    from resources.sam.model import build_sam
    from resources.sam.render import render_segmentation

    config = parse_sam_config(prepared.config)
    params = parse_infer_params(prepared.params)
    weights = prepared.weights.get(config.checkpoint)
    if weights is None:
        raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
    started = time.perf_counter()
    sam = cached_model(
        digest=prepared.resource["digest"],
        device=prepared.device,
        load=partial(build_sam, config, weights.path, device=prepared.device),
        timings=prepared.timings,
        expected_bytes=weights.size,
    )
    prepared.timings["model_load_s"] = round(time.perf_counter() - started, 4)
    out_root = prepared.work_dir / "outputs"
    written: list[Path] = []
    per_image: list[float] = []
    count = len(prepared.inputs)
    for index, item in enumerate(prepared.inputs):
        started = time.perf_counter()
        image = decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_image_pixels)
        if params.mode == "prompt" and params.prompt is not None:
            params.prompt.check_inside(image.shape[1], image.shape[0])
            records = segment_prompt(sam, image, params.prompt)
        else:
            records = segment_auto(sam, image, params.auto, on_batch=partial(_report, report.progress, index, count))
        files = render_segmentation(
            image=image,
            image_name=item.name,
            image_sha256=item.file.sha256,
            records=records,
            resource={k: prepared.resource[k] for k in ("name", "version", "digest")},
            mode=params.mode,
            params=params.model_dump(mode="json"),
            outputs=params.outputs,
        )
        folder = out_root / item.stem
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            written.append(folder / name)
        per_image.append(round(time.perf_counter() - started, 4))
        report.progress((index + 1) / len(prepared.inputs))
    prepared.timings["per_image_s"] = per_image
    return written


def _report(on_progress: Callable[[float], None], index: int, count: int, done: int, total: int) -> None:
    """Progress over all inputs from progress within input `index` (batches `done` of `total`)."""
    on_progress((index + done / max(total, 1)) / count)
