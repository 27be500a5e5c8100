"""Benchmark: SAM automatic masks, engine `reference` (segment-anything's generator) vs. `fast` (resources.sam.fast).

In one run, same weights, photos and parameters, on one device (`--device`; the same script is the GPU check),
for each points-per-side value:
- encoder time per photo: the library's encoder (what `reference` runs) and the fast engine's (fused attention;
  on CUDA reduced precision where the model's probe masks keep, and with `--compiled` its compiled form, as a
  warm worker keeps it), with the largest difference of their features;
- automatic-mask time per photo for both engines, repetitions interleaved (reference, fast, reference, …)
  so that a busy machine slows both alike; medians with their spread (min–max);
- the speed-up (reference / fast, median of the per-repetition ratios, with spread);
- agreement: mask counts of both engines and the worst IoU of a mask with its counterpart (same prompt and crop);
- decode time per prompt (one point, the photo's embedding already set: what a click costs once encoded);
- with `--prompt-latency`, the cached-prompt latency on a real stack (bench/sam_prompt_latency.py: submit → result
  of a prompt task whose photo's embedding is cached, against the encoder).

Thresholds are low and box NMS off so that hundreds of masks survive: the post-processing is what differs.
The model is a SAM with vit_b's encoder numbers and random (UNTRAINED) weights, or `--model tiny`, or a real
checkpoint (`--checkpoint sam_vit_h_4b8939.pth --arch vit_h`). Goals: fast ≥ 2x reference on the CPU and ≥ 3x on
one GPU, same mask counts, worst IoU ≥ 0.99.
Usage: .venv/bin/python bench/sam_engines.py [--model vit_b|tiny] [--sides 16,32] [--repeats 3] [--photos 2]
       [--width 600] [--points-per-batch 64] [--threads 0 (torch's default)] [--prompt-latency]
       [--device auto|cpu|cuda] [--compiled] [--checkpoint PATH --arch vit_b|vit_l|vit_h]
GPU check: .venv/bin/python bench/sam_engines.py --device cuda --compiled --sides 16,32 --photos 4
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from resources.device import select_device
from resources.sam.agreement import worst_mask_iou
from resources.sam.config import AutoParams, parse_sam_config
from resources.sam.fast import generate
from resources.sam.fast.decode import embed
from resources.sam.fast.encoder import Acceleration, FastEncoder, fast_encoder
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


def timed(run: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Seconds of `run(*args, **kwargs)`, the device's queued work included; and its result."""
    _synchronize()
    started = time.perf_counter()
    result = run(*args, **kwargs)
    _synchronize()
    return time.perf_counter() - started, result


def _synchronize() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):8.2f} s  ({min(values):.2f}–{max(values):.2f})"


def run_side(sam: Any, images: list[np.ndarray], side: int, repeats: int, per_batch: int, encoder: FastEncoder) -> None:
    params = AutoParams(
        engine="reference",  # segment_auto below: the library's generator; the fast engine is called directly
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
            fast_time, fast = timed(generate, sam, image, params, encoder=encoder)
            times["reference"].append(reference_time)
            times["fast"].append(fast_time)
            ratios.append(reference_time / fast_time)
            counts.add((len(reference), len(fast)))
            worst = min(worst, worst_mask_iou(reference, fast))
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
    parser.add_argument("--checkpoint", type=Path, help="a real SAM checkpoint instead of random weights")
    parser.add_argument("--arch", choices=["vit_b", "vit_l", "vit_h"], default="vit_h")
    parser.add_argument("--device", default="auto", help="auto (CUDA where present), cpu or cuda")
    parser.add_argument("--compiled", action="store_true", help="the fast encoder's compiled form (CUDA)")
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
    device = select_device() if args.device == "auto" else args.device
    sam, described = load(args, device)
    images = photos(args.photos, args.width)
    print(f"{described} on {device_name(device)}, {torch.get_num_threads()} torch threads, photos {args.width} px")
    encoder = fast_encoder(sam, long_lived=args.compiled)
    print(f"fast encoder: {encoder.describe()}")
    encoders(sam, images, encoder, args.repeats)
    print(f"decode per prompt (embedding set): {spread(decode_times(sam, images[0], args.repeats * 5))}")
    for side in (int(value) for value in args.sides.split(",")):
        run_side(sam, images, side, args.repeats, args.points_per_batch, encoder)
    if args.prompt_latency:
        from bench.sam_prompt_latency import measure

        print("\ncached-prompt latency on the warm lane (bench/sam_prompt_latency.py):")
        print(*measure(model=args.model, repeats=args.repeats).lines(), sep="\n")


def load(args: Any, device: str) -> tuple[Any, str]:
    """The benchmark's SAM on `device`, and what it is."""
    if args.checkpoint is not None:
        config = parse_sam_config({"arch": args.arch, "checkpoint": args.checkpoint.name})
        return build_sam(config, args.checkpoint, device=device), f"{args.arch} ({args.checkpoint.name})"
    raw = VIT_B_SIZED_CONFIG if args.model == "vit_b" else TINY_CONFIG
    with tempfile.TemporaryDirectory() as folder:
        weights = Path(folder) / raw["checkpoint"]
        save_random_weights(parse_sam_config(raw), weights, seed=0)
        return build_sam(parse_sam_config(raw), weights, device=device), f"model {args.model} (random weights)"


def device_name(device: str) -> str:
    return torch.cuda.get_device_name(device) if device.startswith("cuda") else f"CPU ({device})"


def encoders(sam: Any, images: list[np.ndarray], encoder: FastEncoder, repeats: int) -> None:
    """Encoder time per photo, the library's and the fast engine's (interleaved), and how far their features differ."""
    library = FastEncoder(sam, Acceleration(sdpa=False, dtype=torch.float32, compiled=None))
    with torch.inference_mode():
        timed(embed, sam, images[:1], encoder)  # a compiled form compiles here, outside the timings
        times: dict[str, list[float]] = {"library": [], "fast": []}
        differ = 0.0
        for _ in range(repeats):
            for image in images:
                library_time, expected = timed(embed, sam, [image], library)
                fast_time, found = timed(embed, sam, [image], encoder)
                times["library"].append(library_time)
                times["fast"].append(fast_time)
                scale = float(expected[0].abs().max())
                differ = max(differ, float((found[0] - expected[0]).abs().max()) / scale)
    ratio = statistics.median(times["library"]) / statistics.median(times["fast"])
    print(f"encoder per photo, library: {spread(times['library'])}")
    print(f"encoder per photo, fast:    {spread(times['fast'])}   {ratio:.2f}x, features differ ≤ {differ:.1e} (rel.)")


def decode_times(sam: Any, image: np.ndarray, count: int) -> list[float]:
    """Seconds of one `SamPredictor.predict` (one point, one mask) with the photo's embedding already set."""
    from segment_anything import SamPredictor

    predictor = SamPredictor(sam)
    with torch.inference_mode():
        predictor.set_image(image)
        _synchronize()
        height, width = image.shape[:2]
        points = np.random.default_rng(0).uniform((0, 0), (width, height), size=(count, 2)).astype(np.float32)
        return [timed(predictor.predict, point[None], np.array([1]), None, None, False)[0] for point in points]


if __name__ == "__main__":
    main()
