"""The infer step for `segmenter.sam`: masks for every input, rendered to files in the work folder."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from commons.image_io import decode_image
from flows.kinds.sam.coco_results import CocoResults
from flows.kinds.sam.loading import load_fast_encoder, load_prompt_decoder, load_sam
from flows.kinds.sam.progress import BatchProgress
from flows.kinds.sam.summary import photo_summary, summary_bytes
from flows.steps.embedding_cache import Lookup, task_cache
from flows.steps.prepare import Prepared, Stopwatch
from flows.steps.reporting import Reporter

if TYPE_CHECKING:
    import numpy as np
    from segment_anything.modeling import Sam

    from resources.sam.config import PromptParams
    from resources.sam.embedding import ImageEmbedding


def infer_sam(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    """Write `<stem>/hard.png`, `blended.png`, `labels.png`, `segments.json` (as `outputs` asks) and always
    `<stem>/summary.json` (see `photo_summary`) under `work_dir/outputs`; with `json`, also the task's segments
    in COCO's results format (`segments.coco.json`, `images.coco.json`: see `coco_results`)."""
    from resources.sam.config import parse_infer_params, parse_sam_config
    from resources.sam.infer import segment_auto_tallied
    from resources.sam.render import render_segmentation

    config = parse_sam_config(prepared.config)
    params = parse_infer_params(prepared.params)
    sam = load_sam(prepared, config)
    written: list[Path] = []
    per_image: list[float] = []
    progress = BatchProgress(report, count=len(prepared.inputs))
    embeddings, digest, lookups = task_cache(), prepared.version_record.digest, []
    coco = CocoResults()  # with the json output: segments.coco.json and images.coco.json (coco_results)
    fast = params.mode == "auto" and params.auto.engine == "fast"
    encoder = load_fast_encoder(prepared, sam) if fast else None
    for index, item in enumerate(prepared.inputs):
        watch = Stopwatch()
        image = decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_image_pixels)
        if params.mode == "prompt" and params.prompt is not None:
            params.prompt.check_inside(image.shape[1], image.shape[0])
            embedding, lookup = embeddings.embedding(
                sam, image, version_digest=digest, photo_sha256=item.file.sha256, device=prepared.device
            )
            lookups.append(lookup)
            records = prompt_records(prepared, sam, image, params.prompt, embedding)
            tally = None
        else:
            on_batch = progress.for_photo(index)
            records, tally = segment_auto_tallied(sam, image, params.auto, on_batch=on_batch, encoder=encoder)
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


def prompt_records(
    prepared: Prepared, sam: Sam, image: np.ndarray, prompt: PromptParams, embedding: ImageEmbedding
) -> list[dict[str, Any]]:
    """The prompt's masks by its engine: `fast` (ONNX Runtime, on the CPU) or `reference` (SamPredictor); the
    manifest's `timings.prompt_engine` says which ran (`fast` asked on a GPU runs PyTorch's decoder there)."""
    from resources.sam.infer import segment_prompt
    from resources.sam.prompt_fast import segment_prompt_fast

    decoder = load_prompt_decoder(prepared, sam) if prompt.engine == "fast" else None
    prepared.timings["prompt_engine"] = "fast" if decoder is not None else "reference"
    if decoder is None:
        return segment_prompt(sam, image, prompt, embedding=embedding)
    return segment_prompt_fast(decoder, sam, image, prompt, embedding=embedding)


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
