"""Benchmark: a prompt task on a photo seen before skips SAM's image encoder (the embedding cache), on the warm lane.

In one run, on an embedded stack started by the code of `commons up` (temporary folder, free ports), one photo
(skimage's coffee, 600x400) and one prompt (a point and a box):
- the first prompt task on the photo, submit → result (succeeded, outputs listed): a miss, the encoder runs;
- later prompt tasks on the same photo (hits: the embedding from the warm worker's memory), with each prompt
  engine (`reference`: SamPredictor's decoder in PyTorch; `fast`: the decoder's ONNX graph in ONNX Runtime, as the
  Segment page saves), interleaved with the reference path in this process (a direct `SamPredictor` on the same
  weights: `set_image` + `predict`, which encodes every time): reference, task, fast task, reference, …, so that a
  busy machine slows all alike;
- medians with their spread (min–max), and the ratios: later task / reference, first task / reference.
Goal (issue 18): later prompt tasks ≤ 0.5 s submit → result, against ≥ the encoder time for the reference.

The model is a `custom` SAM config with vit_b's encoder numbers and random (UNTRAINED) weights, or `--model tiny`.
`measure(...)` runs it all and returns the figures (bench/sam_engines.py prints them beside the engines').
Usage: .venv/bin/python bench/sam_prompt_latency.py [--model vit_b|tiny] [--repeats 5]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded import arguments, bench_settings, png, publish_sam, random_sam, running, signed_in
from launcher.client import CommonsClient
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, VIT_B_SIZED_CONFIG, build_sam

POINT = [300, 200, 1]
BOX = [100, 80, 400, 300]
PARAMS: dict[str, Any] = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [POINT], "boxes": [BOX]}}
FAST_PARAMS: dict[str, Any] = {**PARAMS, "prompt": {**PARAMS["prompt"], "engine": "fast"}}
GOAL_SECONDS = 0.5


@dataclass(frozen=True)
class PromptLatency:
    """Seconds: the first task (miss), later tasks (hits), the reference path and its encoder part."""

    model: str
    first_task: float
    later_tasks: list[float]
    fast_tasks: list[float]  # later tasks with the `fast` prompt engine
    reference: list[float]  # SamPredictor set_image + predict
    encoder: list[float]  # set_image alone, within each reference run
    sources: list[str]  # each later task's manifest: where its embedding came from

    def lines(self) -> list[str]:
        reference = statistics.median(self.reference)
        fast = statistics.median(self.fast_tasks)
        met = "met" if fast <= GOAL_SECONDS and fast < statistics.median(self.encoder) else "NOT met"
        return [
            f"  reference (SamPredictor set_image + predict): {spread(self.reference)}",
            f"    of which the encoder (set_image):           {spread(self.encoder)}",
            f"  first prompt task (miss), submit → result:    {self.first_task:8.3f} s"
            f"   ratio to reference {self.first_task / reference:.3f}",
            f"  later prompt tasks (hit), engine reference:   {spread(self.later_tasks)}"
            + ratios(self.later_tasks, self.reference),
            f"  later prompt tasks (hit), engine fast:        {spread(self.fast_tasks)}"
            + ratios(self.fast_tasks, self.reference),
            f"  later tasks' embeddings came from: {sorted(set(self.sources))}",
            f"  goal: later tasks (fast engine) ≤ {GOAL_SECONDS} s and under the encoder time: {met}",
        ]


def ratios(tasks: list[float], reference: list[float]) -> str:
    pairs = [task / ref for task, ref in zip(tasks, reference, strict=False)]
    return f"   ratio to reference {statistics.median(pairs):.3f} ({min(pairs):.3f}–{max(pairs):.3f})"


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.3f} s  ({min(values):.3f}–{max(values):.3f}, n={len(values)})"


def coffee() -> np.ndarray:
    return np.ascontiguousarray(np.asarray(skdata.coffee())[..., :3])


def reference_run(predictor: Any, image: np.ndarray) -> tuple[float, float]:
    """A direct SamPredictor on the photo and the prompt: (seconds in all, seconds of set_image)."""
    started = time.perf_counter()
    with torch.inference_mode():
        predictor.set_image(image)
        encoded = time.perf_counter()
        predictor.predict(
            point_coords=np.array([POINT[:2]], dtype=np.float32),
            point_labels=np.array([POINT[2]]),
            box=np.array(BOX, dtype=np.float32),
            multimask_output=True,
        )
        predictor.reset_image()
    return time.perf_counter() - started, encoded - started


def task_run(
    client: CommonsClient, resource: str, upload_id: str, params: dict[str, Any] = PARAMS
) -> tuple[float, str]:
    """Submit → result of one prompt task: (seconds, where its embedding came from, as its manifest says)."""
    import httpx

    started = time.perf_counter()
    task = client.submit(resource=resource, version=1, inputs=[upload_id], params=params)
    done = client.wait(task["id"], timeout=1200, poll=0.02)
    elapsed = time.perf_counter() - started
    if done["status"] != "succeeded":
        raise RuntimeError(f"prompt task failed: {done['error']}")
    if done["lane"] != "warm":
        raise RuntimeError(f"the prompt task ran on the {done['lane']} lane, not the warm one")
    timings = httpx.get(done["manifest_url"], timeout=30).json()["timings"]
    return elapsed, f"{timings.get('embedding')}/{timings.get('embedding_source')}"


def measure(*, model: str = "vit_b", repeats: int = 5) -> PromptLatency:
    """Start a stack, publish the SAM, and time the first and `repeats` later prompt tasks on one photo,
    interleaved with `repeats` reference runs."""
    from segment_anything import SamPredictor

    config = dict(VIT_B_SIZED_CONFIG if model == "vit_b" else TINY_CONFIG)
    image = coffee()
    with tempfile.TemporaryDirectory(prefix="commons-bench-") as folder:
        root = Path(folder)
        weights = random_sam(root, config)
        predictor = SamPredictor(build_sam(parse_sam_config(config), weights, device="cpu"))
        settings = bench_settings(root)
        with running(settings):
            client, _ = signed_in(settings, "bench")
            publish_sam(client, "bench-sam", "bench", weights, config)
            upload_id = client.upload("coffee.png", png(image))["id"]
            first, source = task_run(client, "bench-sam", upload_id)
            if not source.startswith("miss"):
                raise RuntimeError(f"the first prompt task on a new photo was a {source}")
            task_run(client, "bench-sam", upload_id, FAST_PARAMS)  # the warm worker builds the graph once
            later, fast, sources, reference, encoder = [], [], [], [], []
            for _ in range(repeats):
                total, encoding = reference_run(predictor, image)
                reference.append(total)
                encoder.append(encoding)
                seconds, source = task_run(client, "bench-sam", upload_id)
                later.append(seconds)
                sources.append(source)
                seconds, source = task_run(client, "bench-sam", upload_id, FAST_PARAMS)
                fast.append(seconds)
                sources.append(source)
            client.close()
    return PromptLatency(model, first, later, fast, reference, encoder, sources)


def main() -> None:
    parser = arguments(__doc__, repeats=5)
    parser.add_argument("--model", choices=("vit_b", "tiny"), default="vit_b")
    args = parser.parse_args()
    result = measure(model=args.model, repeats=args.repeats)
    print(f"\nprompt latency, {result.model}-sized SAM (random weights), coffee 600x400, CPU, warm lane:")
    for line in result.lines():
        print(line)


if __name__ == "__main__":
    main()
