"""The embed step for `segmenter.sam`: one photo's image embedding, as the browser reads it.

`embedding.bin` is the encoder's output as raw float32 little-endian (shape in `embedding.json`, 1 x 256 x 64 x 64
for every standard SAM); `embedding.json` says the photo's `original_size` and the `input_size` it was resized to
(both [height, width]), which map a click to the decoder's coordinates (`ResizeLongestSide.apply_coords`).
"""

from __future__ import annotations

import json
from pathlib import Path

from commons.errors import InvalidInput
from commons.image_io import decode_image
from flows.kinds.sam.infer import embedding_timings
from flows.kinds.sam.loading import load_sam
from flows.steps.embedding_cache import task_cache
from flows.steps.prepare import Prepared
from flows.steps.reporting import Reporter

EMBEDDING = "embedding.bin"
EMBEDDING_INFO = "embedding.json"
EMBEDDING_FORMAT = "sam-embedding-f32le/1"


def embed_sam(prepared: Prepared, *, max_image_pixels: int, report: Reporter) -> list[Path]:
    from resources.sam.config import parse_embed_params, parse_sam_config

    config = parse_sam_config(prepared.config)
    parse_embed_params(prepared.params)
    if len(prepared.inputs) != 1:
        raise InvalidInput(f"an embed task takes exactly one photo (got {len(prepared.inputs)})", field="inputs")
    item = prepared.inputs[0]
    sam = load_sam(prepared, config)
    image = decode_image(item.file.path.read_bytes(), name=item.name, max_pixels=max_image_pixels)
    with prepared.timed("encode"):  # a photo seen before (a prompt task, another page) skips the encoder
        found, lookup = task_cache().embedding(
            sam,
            image,
            version_digest=prepared.version_record.digest,
            photo_sha256=item.file.sha256,
            device=prepared.device,
        )
    prepared.timings.update(embedding_timings([lookup]))
    report.progress(0.9)
    values = found.features.numpy().astype("<f4", copy=False)
    prepared.outputs.mkdir(parents=True, exist_ok=True)
    data = prepared.outputs / EMBEDDING
    data.write_bytes(values.tobytes())  # "<f4": little-endian whatever the machine
    info = {
        "format": EMBEDDING_FORMAT,
        "dtype": "float32",
        "byte_order": "little",
        "shape": list(values.shape),
        "original_size": list(found.original_size),
        "input_size": list(found.input_size),
        "photo": {"name": item.name, "sha256": item.file.sha256},
        "version": prepared.reference(),
    }
    described = prepared.outputs / EMBEDDING_INFO
    described.write_text(json.dumps(info, indent=2) + "\n")
    report.progress(1.0)
    return [data, described]
