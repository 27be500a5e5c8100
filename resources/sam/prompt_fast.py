"""The `fast` prompt engine: a prompt's mask from SAM's decoder as an ONNX graph run by ONNX Runtime.

The graph is the one the Segment page decodes in the browser (`resources.sam.onnx_decoder`: segment-anything's
`SamOnnxModel`, exported from this very model); ONNX Runtime runs it about twice as fast as PyTorch's eager
decoder on a CPU (bench/sam_prompt_latency.py), and a task saved from the page gets the mask the page showed.

`PromptDecoder.build` exports the graph of a loaded SAM and refuses it unless its masks match PyTorch's on test
prompts (IoU ≥ `MIN_IOU`, `check_decoder`); warm workers keep it beside the model (flows/kinds/sam/loading.py).
The graph keeps one mask per prompt by SAM's own rule (`multimask_for`: the best of three for one point alone or
a box alone, else the single-mask output); a prompt whose `multimask` asks otherwise is decoded by PyTorch, so
every record is what the `reference` engine's rule would keep.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from segment_anything.modeling import Sam

from commons.image_io import check_rgb_array
from resources.sam.config import PromptParams
from resources.sam.embedding import ImageEmbedding, predictor_for
from resources.sam.infer import mask_record
from resources.sam.onnx_decoder import (
    OUTPUT_NAMES,
    Box,
    Point,
    check_decoder,
    decoder_inputs,
    export_decoder,
    load_decoder,
    multimask_for,
    stand_in_embedding,
)


class PromptDecoder:
    """An ONNX Runtime session of one SAM's decoder graph, checked against PyTorch when built."""

    def __init__(self, session: Any, *, graph_bytes: int, worst_iou: float) -> None:
        self.session = session
        self.cache_bytes = graph_bytes  # what a model cache counts for it (flows/steps/model_cache.py)
        self.worst_iou = worst_iou

    @classmethod
    def build(cls, sam: Sam) -> PromptDecoder:
        """Export `sam`'s decoder (a model on the CPU), check it (DecoderMismatch when its masks differ) and load it."""
        with tempfile.TemporaryDirectory(prefix="commons-decoder-") as folder:
            path = export_decoder(sam, Path(folder) / "decoder.onnx")
            worst = check_decoder(path, sam, stand_in_embedding(sam))
            return cls(load_decoder(path), graph_bytes=path.stat().st_size, worst_iou=worst)

    def logits(self, embedding: ImageEmbedding, points: list[Point], box: Box | None) -> tuple[np.ndarray, float]:
        """The kept mask's logits (h x w float32, the photo's pixels) and its predicted IoU, for one prompt."""
        masks, scores, _ = self.session.run(list(OUTPUT_NAMES), decoder_inputs(embedding, points, box))
        return np.asarray(masks, dtype=np.float32)[0, 0], float(np.asarray(scores).reshape(-1)[0])


def segment_prompt_fast(
    decoder: PromptDecoder, sam: Sam, image: np.ndarray, params: PromptParams, *, embedding: ImageEmbedding
) -> list[dict[str, Any]]:
    """`resources.sam.infer.segment_prompt`'s records (one per box, or one for the points alone) from the graph."""
    check_rgb_array(image)
    height, width = image.shape[:2]
    params.check_inside(width, height)
    if embedding.original_size != (height, width):
        raise ValueError(f"the embedding is of a {embedding.original_size} photo, not of this {(height, width)} one")
    points: list[Point] = [(float(x), float(y), int(label)) for x, y, label in params.points]
    coords = np.array([[x, y] for x, y, _ in points], dtype=np.float32).reshape(-1, 2)
    boxes: list[Box | None] = [tuple(box) for box in params.boxes] or [None]  # type: ignore[misc]
    threshold = float(sam.mask_threshold)
    records = []
    for box in boxes:
        if params.multimask == multimask_for(points, box):
            logits, score = decoder.logits(embedding, points, box)
        else:
            logits, score = _torch_logits(sam, embedding, coords, points, box, multimask=params.multimask)
        records.append(mask_record(logits, score, threshold, coords))
    return records


def _torch_logits(
    sam: Sam, embedding: ImageEmbedding, coords: np.ndarray, points: list[Point], box: Box | None, *, multimask: bool
) -> tuple[np.ndarray, float]:
    """PyTorch's kept mask, for a prompt whose `multimask` differs from the graph's rule."""
    labels = np.array([label for _, _, label in points], dtype=np.int64)
    with torch.inference_mode():
        logits, scores, _ = predictor_for(sam, embedding).predict(
            point_coords=coords if len(coords) else None,
            point_labels=labels if len(labels) else None,
            box=np.array(box, dtype=np.float32) if box is not None else None,
            multimask_output=multimask,
            return_logits=True,
        )
    best = int(np.argmax(scores))
    return np.asarray(logits[best], dtype=np.float32), float(scores[best])
