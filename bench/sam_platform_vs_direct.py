"""Benchmark: SAM automatic masks through the platform vs. directly with segment-anything, and dispatch latency.

In one run, on an embedded stack started by the code of `commons up` (temporary folder, free ports):

(a) 8 photos from skimage.data segmented by one task (submit → manifest written) and by a direct
    `SamAutomaticMaskGenerator` loop on the same weights and parameters (model load + generate);
    prints both times and their ratio, for a cold weight cache and a warm one.
(b) submit → `running` latency over 10 small tasks; prints the median.

The model is a `custom` SAM config with vit_b's encoder numbers and random (UNTRAINED) weights.
Usage: .venv/bin/python bench/sam_platform_vs_direct.py [--points-per-side 8] [--photos 8] [--config vit_b|tiny]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded import arguments, bench_settings, png, publish_sam, random_sam, running, signed_in
from launcher.client import CommonsClient
from resources.sam.config import parse_infer_params, parse_sam_config
from resources.sam.model import TINY_CONFIG, VIT_B_SIZED_CONFIG, build_sam

PHOTOS = (
    "coffee",
    "astronaut",
    "chelsea",
    "rocket",
    "immunohistochemistry",
    "coins",
    "hubble_deep_field",
    "retina",
)


def photos(count: int) -> list[tuple[str, np.ndarray]]:
    chosen = []
    for name in PHOTOS[:count]:
        image = np.asarray(getattr(skdata, name)())
        if image.ndim == 2:
            image = np.stack([image] * 3, axis=-1)
        image = image[..., :3].astype(np.uint8)
        if max(image.shape[:2]) > 1024:  # keep the run short on CPU; SAM resizes to 1024 anyway
            scale = 1024 / max(image.shape[:2])
            image = np.asarray(
                Image.fromarray(image).resize((int(image.shape[1] * scale), int(image.shape[0] * scale)))
            )
        chosen.append((f"{name}.png", image))
    return chosen


def direct_run(
    config: dict[str, Any], weights: Path, images: list[tuple[str, np.ndarray]], auto: dict[str, Any]
) -> float:
    from segment_anything import SamAutomaticMaskGenerator

    started = time.perf_counter()
    sam = build_sam(parse_sam_config(config), weights, device="cpu")
    generator = SamAutomaticMaskGenerator(sam, **parse_infer_params({"auto": auto}).auto.as_kwargs())
    for _name, image in images:
        generator.generate(image)
    return time.perf_counter() - started


def platform_run(client: CommonsClient, resource: str, upload_ids: list[str], params: dict[str, Any]) -> float:
    started = time.perf_counter()
    task = client.submit(resource=resource, version=1, inputs=upload_ids, params=params)
    final = client.wait(task["id"], timeout=3600, poll=0.5)  # gentle polling: the CPU belongs to the worker
    elapsed = time.perf_counter() - started
    if final["status"] != "succeeded":
        raise RuntimeError(f"platform task failed: {final['error']}")
    return elapsed


def submit_to_running(client: CommonsClient, resource: str, upload_id: str, params: dict[str, Any]) -> float:
    started = time.perf_counter()
    task = client.submit(resource=resource, version=1, inputs=[upload_id], params=params)
    while True:
        status = client.task(task["id"])["status"]
        if status != "pending" and status != "scheduled":
            elapsed = time.perf_counter() - started
            break
        time.sleep(0.02)
    client.wait(task["id"], timeout=600)
    return elapsed


def main() -> None:
    parser = arguments(__doc__, points_per_side=8, photos=8, latency_tasks=10)
    parser.add_argument("--config", choices=("vit_b", "tiny"), default="vit_b")
    args = parser.parse_args()
    config = dict(VIT_B_SIZED_CONFIG if args.config == "vit_b" else TINY_CONFIG)
    auto = {"points_per_side": args.points_per_side, "engine": "reference"}  # the library's generator, as direct
    params = {"mode": "auto", "outputs": ["hard", "blended", "json"], "auto": auto}
    images = photos(args.photos)

    with tempfile.TemporaryDirectory(prefix="commons-bench-") as folder:
        root = Path(folder)
        weights = random_sam(root, config)
        settings = bench_settings(root)
        with running(settings):
            client, _ = signed_in(settings, "bench")
            publish_sam(client, "bench-sam", "bench", weights, config)
            upload_ids = [client.upload(name, png(image))["id"] for name, image in images]

            print(
                f"\n(a) {len(images)} photos, {args.config}-sized SAM (random weights), points_per_side="
                f"{args.points_per_side}, CPU",
                flush=True,
            )
            direct = direct_run(config, weights, images, auto)
            cold = platform_run(client, "bench-sam", upload_ids, params)
            warm = platform_run(client, "bench-sam", upload_ids, params)
            print(f"  direct segment-anything (load + generate): {direct:8.2f} s")
            print(f"  platform, cold weight cache (submit → manifest): {cold:8.2f} s   ratio {cold / direct:.3f}")
            print(f"  platform, warm weight cache (submit → manifest): {warm:8.2f} s   ratio {warm / direct:.3f}")

            tiny_params = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [[10, 10, 1]]}}
            latencies = [
                submit_to_running(client, "bench-sam", upload_ids[0], tiny_params) for _ in range(args.latency_tasks)
            ]
            print(
                f"\n(b) submit → running over {len(latencies)} tasks: median {statistics.median(latencies):.3f} s "
                f"(min {min(latencies):.3f}, max {max(latencies):.3f})",
                flush=True,
            )
            client.close()


if __name__ == "__main__":
    main()
