"""Benchmark: a click on the Segment page shows its mask decoded in the browser, against a prompt task per click.

In one run, on an embedded stack started by the code of `commons up` (temporary folder, free ports), with Debian's
Chromium driven by Playwright:
- the page loads the version's exported decoder (ONNX Runtime Web, served by the API) and the photo's embedding
  (an `embed` task), then each click is decoded in the page: the page's own measure (performance.now()) from the
  click to its mask painted, and the decoder's run alone;
- the reference is what a click cost before: a prompt task per click on the warm lane, submit → result, with the
  photo's embedding already cached (the fastest server path), interleaved with the clicks (click, task, click, …)
  so that a busy machine slows both alike;
- medians with their spread (min–max) and the ratio task / click. Goal (issue 18): a click shows its mask within
  150 ms after the embedding arrived.

The decoder does not depend on the encoder's size (SAM's prompt encoder and mask decoder are the same for every
image encoder), so the tiny random-weight SAM gives the same decode cost as vit_h; the embedding is computed once.
Usage: .venv/bin/python bench/segment_decode.py [--clicks 10]
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

from bench.embedded import PASSWORD, arguments, bench_settings, png, publish_sam, random_sam, running, signed_in
from commons.settings import Settings
from launcher.client import CommonsClient
from resources.sam.model import TINY_CONFIG

CHROMIUM = "/usr/bin/chromium"
WIDTH, HEIGHT = 300, 200


def photo() -> np.ndarray:
    return np.ascontiguousarray(np.asarray(skdata.coffee())[::2, ::2])  # 300 x 200


def click(page: Any, x: int, y: int) -> tuple[float, float]:
    """Click photo pixel (x, y) with no hover before it; the page's figures: click → mask painted, decoder run."""
    canvas = page.locator("#prompt-canvas")
    box = canvas.bounding_box()
    at = {
        "clientX": box["x"] + (x + 0.2) * box["width"] / WIDTH,
        "clientY": box["y"] + (y + 0.2) * box["height"] / HEIGHT,
    }
    before = int(page.locator("#mask-canvas").get_attribute("data-shown") or 0)
    for name in ("pointerdown", "pointerup"):
        canvas.dispatch_event(name, {**at, "bubbles": True, "isPrimary": True})
    page.wait_for_function("(n) => Number(document.getElementById('mask-canvas').dataset.shown) > n", arg=before)
    overlay = page.locator("#mask-canvas")
    figures = float(overlay.get_attribute("data-ms") or "nan"), float(overlay.get_attribute("data-run") or "nan")
    page.locator("#undo-prompt").click()  # one point a click, as the reference's one-point task
    return figures


def prompt_task(client: CommonsClient, name: str, upload_id: str, x: int, y: int) -> float:
    params = {"mode": "prompt", "outputs": ["json"], "prompt": {"points": [[x, y, 1]], "boxes": [], "multimask": False}}
    started = time.perf_counter()
    task = client.wait(client.submit(resource=name, version=1, inputs=[upload_id], params=params)["id"], poll=0.02)
    if task["status"] != "succeeded":
        raise RuntimeError(f"prompt task {task['id']} {task['status']}: {task.get('error')}")
    return time.perf_counter() - started


def main() -> None:
    args = arguments(__doc__, clicks=10).parse_args()
    with (
        tempfile.TemporaryDirectory(prefix="segment-decode-") as folder,
        running(bench_settings(Path(folder))) as stack,
    ):
        report(*measure(stack.settings, Path(folder), args.clicks))


def measure(settings: Settings, scratch: Path, count: int) -> tuple[list[float], list[float], list[float]]:
    """Per click, interleaved: the page's click → mask and decoder times, and a prompt task's submit → result."""
    from playwright.sync_api import sync_playwright

    client, _token = signed_in(settings, "decoder")
    publish_sam(client, "sam-decode", "Tiny SAM (random weights)", random_sam(scratch, TINY_CONFIG), TINY_CONFIG)
    picture = scratch / "coffee.png"
    Image.fromarray(photo()).save(picture)
    upload = client.upload("coffee.png", png(photo()))
    prompt_task(client, "sam-decode", upload["id"], 150, 100)  # the embedding is cached from here on
    clicks, runs, tasks = [], [], []
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox"])
        page = browser.new_page(base_url=settings.api_url, viewport={"width": 1280, "height": 900})
        page.set_default_timeout(300_000)
        open_segment(page, picture)
        rng = np.random.default_rng(0)
        for _ in range(count):
            x, y = int(rng.integers(5, WIDTH - 5)), int(rng.integers(5, HEIGHT - 5))
            shown, ran = click(page, x, y)
            clicks.append(shown)
            runs.append(ran)
            tasks.append(prompt_task(client, "sam-decode", upload["id"], x, y) * 1000)
        browser.close()
    return clicks, runs, tasks


def open_segment(page: Any, picture: Path) -> None:
    """Sign in, open the Segment page in prompt mode on `picture`, and wait until the page can decode."""
    page.goto("/signin?next=/segment")
    page.get_by_label("User name").fill("decoder")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/segment")
    page.get_by_label("Model").select_option("sam-decode")
    page.get_by_label("Photos").set_input_files(str(picture))
    page.get_by_label("Prompts").check()
    started = time.perf_counter()
    page.wait_for_function("() => document.getElementById('decode-status').dataset.state === 'ready'")
    print(f"· decoder and embedding ready in the page after {time.perf_counter() - started:.1f} s", flush=True)


def spread(values: list[float]) -> str:
    return f"{statistics.median(values):.0f} ms ({min(values):.0f}–{max(values):.0f})"


def report(clicks: list[float], runs: list[float], tasks: list[float]) -> None:
    print(f"click → mask painted, in the page: {spread(clicks)} over {len(clicks)} clicks")
    print(f"  of which the decoder (ONNX Runtime Web, wasm): {spread(runs)}")
    print(f"reference, a prompt task per click (warm lane, embedding cached): {spread(tasks)}")
    print(f"ratio task / click: {statistics.median(tasks) / statistics.median(clicks):.1f}x faster in the page")
    print(f"goal ≤ 150 ms: {'met' if statistics.median(clicks) <= 150 else 'not met'} (median)")


if __name__ == "__main__":
    main()
