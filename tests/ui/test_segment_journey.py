"""A citizen scientist segments a photo on the Segment page and downloads `segments.json`, in Chromium."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import cv2
import httpx
import numpy as np
from PIL import Image
from playwright.sync_api import Browser, Page, Position, expect
from pycocotools import mask as coco_mask
from skimage import data as skdata

from tests.conftest import RunningStack
from tests.ui.conftest import PHONE, fresh_page, new_account, screenshot, sign_in


def test_citizen_scientist_segments_a_photo(
    page: Page, ui_stack: RunningStack, sam_resource: str, tmp_path: Path
) -> None:
    _, username = new_account(ui_stack)
    photo = tmp_path / "coffee.png"
    Image.fromarray(np.asarray(skdata.coffee())[::2, ::2]).save(photo)
    sign_in(page, username, next_path="/segment")
    expect(page.get_by_text(f"Signed in as {username}")).to_be_visible()
    page.get_by_label("Model").select_option(sam_resource)
    page.get_by_label("Photos").set_input_files(str(photo))
    # Random weights score every automatic mask below SAM's quality thresholds; a clicked point always gives one.
    page.get_by_label("Prompts").check()
    canvas = page.locator("#prompt-canvas")
    expect(canvas).to_be_visible()
    page.wait_for_function("() => document.getElementById('prompt-canvas').width === 300")
    area = canvas.bounding_box()
    assert area is not None
    canvas.click(position={"x": area["width"] / 2, "y": area["height"] / 2})
    expect(page.locator("#prompt-summary")).to_contain_text("1 point, 0 boxes")
    page.get_by_role("button", name="Segment", exact=True).click()
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=180_000)
    expect(page.locator("ol.steps li")).to_have_count(3)
    expect(page.locator("ol.steps li.succeeded")).to_have_count(3)
    hard = page.locator("img[data-output='hard.png']")
    blended = page.locator("img[data-output='blended.png']")
    expect(hard).to_be_visible()
    expect(blended).to_be_visible()
    page.wait_for_function("() => [...document.images].every((image) => image.complete && image.naturalWidth > 0)")
    assert hard.evaluate("image => image.naturalWidth") == 300
    expect(page.locator("section[data-folder] h2")).to_have_text("coffee.png — 1 segment")
    expect(page.locator(".prompt-mark.foreground")).to_have_count(2)  # the clicked point, on both masks

    segments_url = page.get_by_role("link", name="segments.json").get_attribute("href")
    assert segments_url
    found = httpx.get(segments_url, timeout=30).json()["segments"]
    assert found, "the clicked point gave segments"
    segment = max(found, key=lambda s: s["area"])
    mask = coco_mask.decode({"size": segment["rle"]["size"], "counts": segment["rle"]["counts"].encode()})
    depth = cv2.distanceTransform(np.pad(mask, 1), cv2.DIST_L2, 3)[1:-1, 1:-1]
    y, x = np.unravel_index(int(depth.argmax()), depth.shape)  # the pixel deepest inside the segment
    blended.scroll_into_view_if_needed()
    box = blended.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + (x + 0.5) * box["width"] / 300, box["y"] + (y + 0.5) * box["height"] / 200, steps=4)
    info = page.locator("[data-role='segment-info']")
    expect(info).to_contain_text(f"Segment {segment['id']}: area {segment['area']} px")
    screenshot(page, "segment")

    with page.expect_download() as download_info:
        page.get_by_role("link", name="segments.json").click()
    segments = json.loads(Path(download_info.value.path()).read_text())
    assert segments["image"]["name"] == "coffee.png" and segments["image"]["width"] == 300
    assert segments["segments"], "the clicked point gave segments"
    assert {"id", "area", "bbox", "polygons", "rle"} <= set(segments["segments"][0])


def test_bad_input_shows_a_readable_message(page: Page, ui_stack: RunningStack, sam_resource: str) -> None:
    _, username = new_account(ui_stack)
    sign_in(page, username, next_path="/segment")
    page.get_by_label("Model").select_option(sam_resource)
    page.get_by_role("button", name="Segment", exact=True).click()
    expect(page.locator("#error")).to_have_text("Choose or drop at least one photo first.")
    not_a_photo = io.BytesIO(b"this is not an image").getvalue()
    page.get_by_label("Photos").set_input_files({"name": "notes.png", "mimeType": "image/png", "buffer": not_a_photo})
    page.get_by_role("button", name="Segment", exact=True).click()
    expect(page.locator("#error")).to_contain_text("notes.png")
    expect(page.locator("#error")).not_to_contain_text("{")


def test_signed_out_visitor_is_asked_to_sign_in(page: Page) -> None:
    page.goto("/segment")
    expect(page.get_by_text("This page needs an account.")).to_be_visible()
    expect(page.get_by_role("link", name="Sign in").first).to_be_visible()


def _photo(tmp_path: Path) -> Path:
    photo = tmp_path / "coffee.png"
    Image.fromarray(np.asarray(skdata.coffee())[::2, ::2]).save(photo)
    return photo


def _task_id(page: Page) -> str:
    href = page.locator("#progress a[href^='/tasks/']").get_attribute("href")
    assert href
    return href.rsplit("/", 1)[-1]


def _segment_a_photo(page: Page, ui_stack: RunningStack, sam_resource: str, tmp_path: Path) -> str:
    """A new account on the Segment page with the tiny SAM chosen and the photo picked; its username."""
    _, username = new_account(ui_stack)
    sign_in(page, username, next_path="/segment")
    page.get_by_label("Model").select_option(sam_resource)
    page.get_by_label("Photos").set_input_files(str(_photo(tmp_path)))
    return username


def test_nothing_passes_the_cutoffs_the_page_says_why_retries_and_reopens(
    page: Page, browser: Browser, ui_stack: RunningStack, sam_resource: str, tmp_path: Path
) -> None:
    username = _segment_a_photo(page, ui_stack, sam_resource, tmp_path)
    page.get_by_text("Advanced settings").click()
    expect(page.get_by_label("Quality cut-off")).to_have_value("0.88")
    expect(page.get_by_label("Stability cut-off")).to_have_value("0.95")
    page.get_by_label("Points per side").fill("2")
    page.get_by_role("button", name="Segment", exact=True).click()
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=180_000)
    first = _task_id(page)
    summary = page.locator("[data-role='cutoff-summary']")
    # Random weights: predicted IoUs of a few hundredths, stability 0; 3 masks for each of 2 x 2 points.
    expect(summary).to_contain_text("Found 12 masks; the quality cut-off 0.88 removed")
    expect(page.locator("section[data-folder] h2")).to_have_text("coffee.png — 0 segments")
    screenshot(page, "segment-nothing-passed")
    summary.get_by_role("button", name="Retry with lower cut-offs").click()
    expect(page.locator("#progress a[href^='/tasks/']")).not_to_have_attribute("href", f"/tasks/{first}")
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=180_000)
    retried = _task_id(page)
    expect(page.locator("section[data-folder] h2")).to_have_text(re.compile(r"coffee\.png — [1-9]\d* segments?$"))
    assert float(page.get_by_label("Quality cut-off").input_value()) < 0.88
    expect(page.locator("[data-role='cutoff-summary']")).to_contain_text("Found 12 masks and kept")

    with fresh_page(browser, ui_stack, PHONE) as later:  # the next day, on a phone
        sign_in(later, username, next_path="/tasks")  # found again in the history, by its photo
        card = later.locator(".task-card").filter(has_text="coffee.png").first
        card.get_by_role("link", name="Open in Segment").click()
        later.wait_for_url(f"**/segment?task={retried}")
        expect(later.locator("#reopened")).to_contain_text(f"Reopened task {retried[:8]}")
        expect(later.locator("section[data-folder] h2")).to_have_text(re.compile(r"coffee\.png — [1-9]\d* segments?$"))
        expect(later.get_by_label("Points per side")).to_have_value("2")
        later.wait_for_function("() => [...document.images].every((image) => image.complete && image.naturalWidth > 0)")
        assert later.evaluate("document.documentElement.scrollWidth") <= 375


def test_prompt_points_undo_toggle_and_reopen(
    page: Page, browser: Browser, ui_stack: RunningStack, sam_resource: str, tmp_path: Path
) -> None:
    username = _segment_a_photo(page, ui_stack, sam_resource, tmp_path)
    page.get_by_label("Prompts").check()
    page.wait_for_function("() => document.getElementById('prompt-canvas').width === 300")
    canvas = page.locator("#prompt-canvas")
    area = canvas.bounding_box()
    assert area is not None

    def at(fx: float, fy: float) -> Position:
        return {"x": area["width"] * fx, "y": area["height"] * fy}

    summary = page.locator("#prompt-summary")
    undo = page.get_by_role("button", name="Undo last")
    expect(undo).to_be_disabled()
    canvas.click(position=at(0.5, 0.5))
    canvas.click(position=at(0.3, 0.3))
    expect(summary).to_have_text("2 points, 0 boxes on coffee.png.")
    undo.click()
    expect(summary).to_have_text("1 point, 0 boxes on coffee.png.")
    background = page.get_by_role("button", name="− Background point")
    background.click()  # no Shift needed, as on a phone
    expect(background).to_have_attribute("aria-pressed", "true")
    canvas.click(position=at(0.1, 0.9))
    expect(summary).to_have_text("2 points, 0 boxes on coffee.png.")
    page.get_by_role("button", name="Segment", exact=True).click()
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=180_000)
    task_id = _task_id(page)
    expect(page.locator("section[data-folder] h2")).to_have_text("coffee.png — 1 segment")
    expect(page.locator(".prompt-mark.foreground")).to_have_count(2)  # one point on the hard and blended masks
    expect(page.locator(".prompt-mark.background")).to_have_count(2)
    screenshot(page, "segment-prompts")

    with fresh_page(browser, ui_stack) as later:
        sign_in(later, username, next_path=f"/segment?task={task_id}")
        expect(later.locator("#reopened")).to_contain_text(f"Reopened task {task_id[:8]}")
        expect(later.get_by_label("Prompts")).to_be_checked()
        expect(later.locator("#prompt-summary")).to_have_text("2 points, 0 boxes on coffee.png.")
        expect(later.locator(".prompt-mark.background")).to_have_count(2)
        later.get_by_role("button", name="Undo last").click()  # refine: a new task from the same upload
        later.get_by_role("button", name="Segment", exact=True).click()
        expect(later.locator("#progress a[href^='/tasks/']")).to_be_visible()
        expect(later.locator("#task-status")).to_have_text("succeeded", timeout=180_000)
        assert _task_id(later) != task_id
        expect(later.locator(".prompt-mark.background")).to_have_count(0)


def test_time_left_from_the_batches_done(page: Page, ui_stack: RunningStack) -> None:
    page.goto("/segment")
    found = page.evaluate(
        """async () => {
            const m = await import('/static/pages/segment-progress.js');
            let clock = 100;
            const left = m.timeLeft(() => clock);
            const task = (progress, step = 'infer') => ({
                status: 'running', progress,
                steps: [{ name: 'init', status: 'succeeded' }, { name: step, status: 'running' }],
            });
            const before = left(task(1 / 3));
            clock = 110;
            const after = left(task(1 / 3 + 0.2 / 3));
            const init = left(task(0.1, 'init'));
            return { before, after, init, long: m.leftText(300), none: m.secondsLeft(0.5, 0.5, 9) };
        }"""
    )
    # A fifth of the batches in 10 s: four fifths left, 40 s.
    assert found == {"before": "", "after": "≈ 40 s left", "init": "", "long": "≈ 5 min left", "none": None}
