"""Benchmark: SAM automatic masks, engine `reference` (segment-anything's generator) vs. `fast` (resources.sam.fast).

In one run, same weights, photos and parameters, for each points-per-side value:
- encoder time per photo (the image encoder alone, the part both engines share);
- automatic-mask time per photo for both engines, repetitions interleaved (reference, fast, reference, …)
  so that a busy machine slows both alike; medians with their spread (min–max);
- the speed-up (reference / fast, median of the per-repetition ratios, with spread);
- agreement: mask counts of both engines and the worst IoU of a mask with its counterpart (same prompt and crop);
- decode time per prompt (one point, the photo's embedding already set: what a click costs once encoded);
- with `--prompt-latency`, the cached-prompt latency on a real stack (bench/sam_prompt_latency.py: submit → result
  of a prompt task whose photo's embedding is cached, against the encoder).

Thresholds are low and box NMS off so that hundreds of masks survive: the post-processing is what differs.
The model is a SAM with vit_b's encoder numbers and random (UNTRAINED) weights, or `--model tiny`.
Usage: .venv/bin/python bench/sam_engines.py [--model vit_b|tiny] [--sides 16,32] [--repeats 3] [--photos 2]
       [--width 600] [--points-per-batch 64] [--threads 0 (torch's default)] [--prompt-latency]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resources.sam.config import AutoParams, parse_sam_config
from resources.sam.fast import generate
from resources.sam.fast.decode import embed
from resources.sam.infer import segment_auto
from resources.sam.model import TINY_CONFIG, VIT_B_SIZED_CONFIG, build_sam, save_random_weights

PHOTOS = ("coffee", "astronaut", "chelsea", "rocket")
Records = list[dict[str, Any]]


def photos(count: int, width: int) -> list[np.ndarray]:
    chosen = []
    for name in PHOTOS[:count]:
        image = Image.fromarray(np.asarray(getattr(skdata, name)())[..., :3])
        chosen.append(np.asarray(image.resize((width, round(image.height * width / image.width)))))
    return chosen


def timed(run: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - started, result


def worst_iou(reference: Records, fast: Records) -> float:
    """The lowest IoU of a reference mask with its best counterpart among the fast masks of the same prompt."""
    by_prompt: dict[tuple[float, ...], list[np.ndarray]] = defaultdict(list)
    for record in fast:
        by_prompt[tuple(float(v) for v in [*record["point_coords"][0], *record["crop_box"]])].append(
            record["segmentation"]
        )
    worst = 1.0
    for record in reference:
        mask = record["segmentation"]
        best = 0.0
        for other in by_prompt[tuple(float(v) for v in [*record["point_coords"][0], *record["crop_box"]])]:
            union = int(np.logical_or(mask, other).sum())
            best = max(best, 1.0 if union == 0 else int(np.logical_and(mask, other).sum()) / union)
        worst = min(worst, best)
    return worst


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.2f} s  ({min(values):.2f}–{max(values):.2f})"


def run_side(sam: Any, images: list[np.ndarray], side: int, repeats: int, per_batch: int) -> None:
    params = AutoParams(
        points_per_side=side,
        points_per_batch=per_batch,
        pred_iou_thresh=0.0,
        stability_score_thresh=0.0,
        box_nms_thresh=1.0,
    )
    times: dict[str, list[float]] = {"reference": [], "fast": []}
    ratios, counts, worst = [], set(), 1.0
    for _ in range(repeats):
        for image in images:
            reference_time, reference = timed(segment_auto, sam, image, params)
            fast_time, fast = timed(generate, sam, image, params)
            times["reference"].append(reference_time)
            times["fast"].append(fast_time)
            ratios.append(reference_time / fast_time)
            counts.add((len(reference), len(fast)))
            worst = min(worst, worst_iou(reference, fast))
    print(f"\npoints_per_side {side} ({side * side} prompts, {len(images)} photos x {repeats} repetitions):")
    print(f"  reference, automatic masks per photo: {spread(times['reference'])}")
    print(f"  fast,      automatic masks per photo: {spread(times['fast'])}")
    print(
        f"  speed-up reference/fast: {statistics.median(ratios):.2f}x  ({min(ratios):.2f}–{max(ratios):.2f})"
        f"   masks (reference, fast): {sorted(counts)}   worst IoU {worst:.4f}"
    )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=["vit_b", "tiny"], default="vit_b")
    parser.add_argument("--sides", default="16,32")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--photos", type=int, default=2)
    parser.add_argument("--width", type=int, default=600)
    parser.add_argument("--points-per-batch", type=int, default=64)
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--prompt-latency", action="store_true")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    config = VIT_B_SIZED_CONFIG if args.model == "vit_b" else TINY_CONFIG
    images = photos(args.photos, args.width)
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / config["checkpoint"]
        save_random_weights(parse_sam_config(config), weights, seed=0)
        sam = build_sam(parse_sam_config(config), weights, device="cpu")
    print(f"model {args.model} (random weights), {torch.get_num_threads()} torch threads, photos {args.width} px wide")
    with torch.inference_mode():
        encoder = [timed(embed, sam, [image])[0] for _ in range(args.repeats) for image in images]
    print(f"encoder per photo: {spread(encoder)}")
    print(f"decode per prompt (embedding set): {spread(decode_times(sam, images[0], args.repeats * 5))}")
    for side in (int(value) for value in args.sides.split(",")):
        run_side(sam, images, side, args.repeats, args.points_per_batch)
    if args.prompt_latency:
        from bench.sam_prompt_latency import measure

        print("\ncached-prompt latency on the warm lane (bench/sam_prompt_latency.py):")
        print(*measure(model=args.model, repeats=args.repeats).lines(), sep="\n")


def decode_times(sam: Any, image: np.ndarray, count: int) -> list[float]:
    """Seconds of one `SamPredictor.predict` (one point, one mask) with the photo's embedding already set."""
    from segment_anything import SamPredictor

    predictor = SamPredictor(sam)
    with torch.inference_mode():
        predictor.set_image(image)
        height, width = image.shape[:2]
        points = np.random.default_rng(0).uniform((0, 0), (width, height), size=(count, 2)).astype(np.float32)
        return [timed(predictor.predict, point[None], np.array([1]), None, None, False)[0] for point in points]


if __name__ == "__main__":
    main()
