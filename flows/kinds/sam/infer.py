"""The infer step for `segmenter.sam`: masks for every input, rendered to files in the work folder."""

from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from commons.errors import InvalidWeights
from commons.image_io import decode_image
from flows.kinds.sam.progress import BatchProgress
from flows.kinds.sam.summary import photo_summary, summary_bytes
from flows.steps.model_cache import cached_model
from flows.steps.prepare import Prepared, Stopwatch
from flows.steps.reporting import Reporter

if TYPE_CHECKING:
    from segment_anything.modeling import Sam

    from resources.sam.config import SamConfig


def infer_sam(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    """Write `<stem>/hard.png`, `blended.png`, `labels.png`, `segments.json` (as `outputs` asks) and always
    `<stem>/summary.json` (see `photo_summary`) under `work_dir/outputs`."""
    from resources.sam.config import parse_infer_params, parse_sam_config
    from resources.sam.infer import segment_auto_tallied, segment_prompt
    from resources.sam.render import render_segmentation

    config = parse_sam_config(prepared.config)
    params = parse_infer_params(prepared.params)
    sam = _load_sam(prepared, config)
    written: list[Path] = []
    per_image: list[float] = []
    progress = BatchProgress(report, count=len(prepared.inputs))
    for index, item in enumerate(prepared.inputs):
        watch = Stopwatch()
        image = decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_image_pixels)
        if params.mode == "prompt" and params.prompt is not None:
            params.prompt.check_inside(image.shape[1], image.shape[0])
            records = segment_prompt(sam, image, params.prompt)
            tally = None
        else:
            records, tally = segment_auto_tallied(sam, image, params.auto, on_batch=progress.for_photo(index))
        files = render_segmentation(
            image=image,
            image_name=item.name,
            image_sha256=item.file.sha256,
            records=records,
            resource=prepared.reference(),
            mode=params.mode,
            params=params.model_dump(mode="json"),
            outputs=params.outputs,
        )
        files["summary.json"] = summary_bytes(photo_summary(item.name, params.mode, len(records), tally))
        folder = prepared.outputs / item.stem
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            written.append(folder / name)
        per_image.append(watch.seconds())
        report.progress((index + 1) / len(prepared.inputs))
    prepared.timings["per_image_s"] = per_image
    return written


def _load_sam(prepared: Prepared, config: SamConfig) -> Sam:
    """The version's SAM on the task's device (perhaps the warm worker's cached copy); records `model_load_s`."""
    from resources.sam.model import build_sam

    weights = prepared.weights.get(config.checkpoint)
    if weights is None:
        raise InvalidWeights(f"the version has no file {config.checkpoint!r} named by config.checkpoint")
    with prepared.timed("model_load"):
        sam = cached_model(
            digest=prepared.version_record.digest,
            device=prepared.device,
            load=partial(build_sam, config, weights.path, device=prepared.device),
            timings=prepared.timings,
            expected_bytes=weights.size,
        )
    return sam
