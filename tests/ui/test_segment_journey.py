"""A citizen scientist segments a photo on the Segment page and downloads `segments.json`, in Chromium."""

from __future__ import annotations

import io
import json
import uuid
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import Page, expect
from pycocotools import mask as coco_mask
from skimage import data as skdata

from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import RunningStack
from tests.ui.conftest import new_account, screenshot, sign_in


@pytest.fixture(scope="module")
def sam_resource(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A public tiny SAM (random weights) published by a provider over REST."""
    weights = tmp_path_factory.mktemp("sam") / TINY_CONFIG["checkpoint"]
    save_random_weights(parse_sam_config(TINY_CONFIG), weights, seed=0)
    provider, _ = new_account(stack)
    name = f"sam-{uuid.uuid4().hex[:8]}"
    provider.create_resource(name=name, kind="segmenter.sam", title="Tiny SAM for the UI", visibility="public")
    provider.upload_version(name, files=[weights], config=TINY_CONFIG)
    provider.grant(name, "*", "use")
    return name


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
    expect(page.locator("#prompt-summary")).to_contain_text("1 point(s), 0 box(es)")
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
