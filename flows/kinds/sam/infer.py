"""The infer step for `segmenter.sam`: masks for every input, rendered to files in the work folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from commons.image_io import decode_image
from flows.kinds.sam.coco_results import CocoResults
from flows.kinds.sam.loading import load_sam
from flows.kinds.sam.progress import BatchProgress
from flows.kinds.sam.summary import photo_summary, summary_bytes
from flows.steps.embedding_cache import Lookup, task_cache
from flows.steps.prepare import Prepared, Stopwatch
from flows.steps.reporting import Reporter

if TYPE_CHECKING:
    pass


def infer_sam(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    """Write `<stem>/hard.png`, `blended.png`, `labels.png`, `segments.json` (as `outputs` asks) and always
    `<stem>/summary.json` (see `photo_summary`) under `work_dir/outputs`; with `json`, also the task's segments
    in COCO's results format (`segments.coco.json`, `images.coco.json`: see `coco_results`)."""
    from resources.sam.config import parse_infer_params, parse_sam_config
    from resources.sam.infer import segment_auto_tallied, segment_prompt
    from resources.sam.render import render_segmentation

    config = parse_sam_config(prepared.config)
    params = parse_infer_params(prepared.params)
    sam = load_sam(prepared, config)
    written: list[Path] = []
    per_image: list[float] = []
    progress = BatchProgress(report, count=len(prepared.inputs))
    embeddings, digest, lookups = task_cache(), prepared.version_record.digest, []
    coco = CocoResults()  # with the json output: segments.coco.json and images.coco.json (coco_results)
    for index, item in enumerate(prepared.inputs):
        watch = Stopwatch()
        image = decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_image_pixels)
        if params.mode == "prompt" and params.prompt is not None:
            params.prompt.check_inside(image.shape[1], image.shape[0])
            embedding, lookup = embeddings.embedding(
                sam, image, version_digest=digest, photo_sha256=item.file.sha256, device=prepared.device
            )
            lookups.append(lookup)
            records = segment_prompt(sam, image, params.prompt, embedding=embedding)
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
        if "segments.json" in files:
            coco.add(image_id=index + 1, segments_json=files["segments.json"])
        folder = prepared.outputs / item.stem
        folder.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (folder / name).write_bytes(data)
            written.append(folder / name)
        per_image.append(watch.seconds())
        report.progress((index + 1) / len(prepared.inputs))
    written += coco.write(prepared.outputs)
    prepared.timings["per_image_s"] = per_image
    if lookups:
        prepared.timings.update(embedding_timings(lookups))
    return written


def embedding_timings(lookups: list[Lookup]) -> dict[str, Any]:
    """What a prompt task's manifest says of its photos' embeddings (under `timings`): `embedding` "hit" when
    every photo's was found, else "miss"; `embedding_source` "memory", "store" or "encoder" (the same for every
    photo) or "mixed"; and per photo, in input order, `embedding_per_image` (sources) and `embedding_s`."""
    sources = [lookup.source for lookup in lookups]
    return {
        "embedding": "hit" if all(lookup.hit for lookup in lookups) else "miss",
        "embedding_source": sources[0] if len(set(sources)) == 1 else "mixed",
        "embedding_per_image": sources,
        "embedding_s": [lookup.seconds for lookup in lookups],
    }
