"""Benchmark: one photo through a warm worker vs. the direct model call, and the cold paths for reference.

In one run, on an embedded stack started by the code of `commons up` (temporary folder, free ports):

- direct: in this process, the model already loaded, `SamPredictor.set_image` + `predict` for one clicked
  point on one photo (what a notebook user pays per photo); median of N.
- warm lane: submit → `succeeded` (manifest written) for the same photo and point, N times after one first
  task that loads the model; median of N. The goal: warm ≤ direct + 0.5 s.
- first warm task (the worker loads the model: the cache's miss) and the batch lane (a new process per task:
  Python, torch and the model loaded every time) for comparison.

The model is a SAM with vit_b's encoder numbers and random (UNTRAINED) weights, or `--config tiny`.
Usage: .venv/bin/python bench/warm_cache.py [--repeats 5] [--config vit_b|tiny]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
from skimage import data as skdata

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.embedded import arguments, bench_settings, png, publish_sam, random_sam, running, signed_in
from launcher.client import CommonsClient
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, VIT_B_SIZED_CONFIG, build_sam

POINT = (300, 200)
PARAMS: dict[str, Any] = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [[*POINT, 1]]}}


def direct_call(config: dict[str, Any], weights: Path, image: np.ndarray, repeats: int) -> list[float]:
    from segment_anything import SamPredictor

    sam = build_sam(parse_sam_config(config), weights, device="cpu")
    predictor = SamPredictor(sam)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        predictor.set_image(image)
        predictor.predict(point_coords=np.array([POINT]), point_labels=np.array([1]), multimask_output=True)
        times.append(time.perf_counter() - started)
    return times


def submit_to_result(client: CommonsClient, upload_id: str, *, lane: str) -> tuple[float, dict[str, Any]]:
    """Seconds from submit to the client seeing `succeeded`, and the task (with `timeline` added)."""
    started, submitted = time.perf_counter(), time.time()
    task = client.submit(resource="bench-sam", version=1, inputs=[upload_id], params=PARAMS, lane=lane)
    # The event stream, not polling: polling every few ms would take CPU from the worker on a small machine.
    for name, data in client.follow(task["id"]):
        if name == "task" and data["status"] in ("succeeded", "failed", "cancelled"):
            break
    elapsed, seen = time.perf_counter() - started, time.time()
    final = client.task(task["id"])
    if final["status"] != "succeeded":
        raise RuntimeError(f"task failed: {final['error']}")
    final["timeline"] = timeline(final, submitted=submitted, seen=seen)
    return elapsed, final


def in_worker_seconds(task: dict[str, Any]) -> float:
    """The photo's own time inside the worker (decode, predict, render) from the task's manifest timings."""
    import httpx

    manifest = httpx.get(task["manifest_url"], timeout=30).json()
    return float(sum(manifest["timings"]["per_image_s"]))


def _seconds(stamp: str) -> float:
    from datetime import datetime

    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def timeline(task: dict[str, Any], *, submitted: float, seen: float) -> dict[str, float]:
    """Where a task's time went, in seconds, from the task row's times (same clock: loopback, one machine):
    submit → the run starts, each step, the last step's end → `succeeded`, and → the client saw it."""
    marks = {"submitted": submitted, "started": _seconds(task["started_at"])}
    spans = {"submit → run started": marks["started"] - submitted}
    previous = marks["started"]
    for step in task["steps"]:
        start, end = _seconds(step["started_at"]), _seconds(step["finished_at"])
        spans[f"gap before {step['name']}"] = start - previous
        spans[step["name"]] = end - start
        previous = end
    spans["last step → client saw it"] = seen - previous
    return spans


def main() -> None:
    parser = arguments(__doc__, repeats=5)
    parser.add_argument("--config", choices=("vit_b", "tiny"), default="vit_b")
    args = parser.parse_args()
    config = dict(VIT_B_SIZED_CONFIG if args.config == "vit_b" else TINY_CONFIG)
    image = np.asarray(skdata.coffee())  # 600 × 400 RGB

    with tempfile.TemporaryDirectory(prefix="commons-bench-") as folder:
        root = Path(folder)
        weights = random_sam(root, config)
        settings = bench_settings(root, warm_workers=1)
        with running(settings):
            client, _ = signed_in(settings, "bench", timeout=1800)
            publish_sam(client, "bench-sam", "bench", weights, config)
            upload_id = client.upload("coffee.png", png(image))["id"]

            first, _ = submit_to_result(client, upload_id, lane="warm")
            warm_runs = [submit_to_result(client, upload_id, lane="warm") for _ in range(args.repeats)]
            warm = [elapsed for elapsed, _ in warm_runs]
            inside = [in_worker_seconds(task) for _, task in warm_runs]
            batch, _ = submit_to_result(client, upload_id, lane="batch")
            direct = direct_call(config, weights, image, args.repeats)
            client.close()

    warm_median, direct_median = statistics.median(warm), statistics.median(direct)
    print(f"\none photo (600 × 400), one clicked point, {args.config}-sized SAM (random weights), CPU")
    print(f"  direct model call (model loaded; set_image + predict), median of {args.repeats}: {direct_median:7.3f} s")
    print(f"  warm worker, submit → succeeded, median of {args.repeats}:                {warm_median:7.3f} s")
    print(f"    overhead over the direct call: {warm_median - direct_median:+.3f} s (goal ≤ +0.500 s)")
    print(f"    ratio warm / direct: {warm_median / direct_median:.3f}")
    inside_median = statistics.median(inside)
    print(f"    of which the photo inside the worker (decode, predict, render): {inside_median:7.3f} s")
    print(f"    platform (submit, dispatch, steps, publish, result): {warm_median - inside_median:+.3f} s")
    print("    where a warm task's time goes (median of the warm runs):")
    for span in warm_runs[0][1]["timeline"]:
        median = statistics.median(task["timeline"][span] for _, task in warm_runs)
        print(f"      {span:<32} {median:7.3f} s")
    print(f"  first warm task (model loaded by the worker: cache miss):          {first:7.3f} s")
    print(f"  batch lane (new process, imports and model load per task):         {batch:7.3f} s")
    print(f"  warm runs: {', '.join(f'{t:.3f}' for t in warm)} s")


if __name__ == "__main__":
    main()
