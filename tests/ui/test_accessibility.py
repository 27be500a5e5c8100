"""Every page at 375 px wide without sideways scrolling, every control named, and labelling by keyboard alone."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect

from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items
from tests.ui.conftest import new_account, sign_in

# Controls a screen reader cannot name: no <label>, no aria-label(ledby), no text, no title.
UNNAMED_CONTROLS = """() => [...document.querySelectorAll('input, select, textarea, button')]
  .filter((c) => c.type !== 'hidden' && c.offsetParent !== null)
  .filter((c) => !((c.labels && c.labels.length) || c.getAttribute('aria-label') || c.getAttribute('aria-labelledby')
                   || (c.tagName === 'BUTTON' && c.textContent.trim()) || c.title))
  .map((c) => c.outerHTML.slice(0, 120))"""
OVERFLOW = "() => document.scrollingElement.scrollWidth - document.documentElement.clientWidth"


def png(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def test_pages_fit_a_phone_and_name_every_control(page: Page, ui_stack: RunningStack, tmp_path: Path) -> None:
    user, username = new_account(ui_stack)
    resource = f"resnet18-{uuid.uuid4().hex[:8]}"
    user.create_resource(name=resource, kind="classifier.resnet", title="A model with a rather long title to wrap")
    # Long option texts in the pages' select boxes must not widen the page.
    sam = f"sam-{uuid.uuid4().hex[:8]}"
    weights = tmp_path / TINY_CONFIG["checkpoint"]
    save_random_weights(parse_sam_config(TINY_CONFIG), weights, seed=0)
    user.create_resource(name=sam, kind="segmenter.sam", title="Segment Anything with a very long descriptive title")
    user.upload_version(sam, files=[weights], config=TINY_CONFIG)
    dataset = user.http.post("/datasets", json={"name": "Phone check", "classes": ["zero", "one"]}).json()
    photos = [("files", (f"d{i}.png", png(image), "image/png")) for i, (image, _) in enumerate(digit_items(2, 2))]
    assert user.http.post(f"/datasets/{dataset['id']}/items", files=photos).status_code == 201
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, username)
    paths = [
        "/explore", "/segment", "/datasets", f"/datasets/{dataset['id']}", "/train", "/build", "/evaluate", "/inspect",
        "/provide", "/tasks", "/tokens", f"/resources/{resource}", "/inbox", "/groups",
    ]  # fmt: skip
    for path in paths:
        page.goto(path)
        page.wait_for_load_state("networkidle")
        expect(page.locator("#error")).to_be_hidden()
        expect(page.locator("#whoami"), f"signed in on {path}").to_have_text(f"Signed in as {username}")
        assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at 375 px"
        assert page.evaluate(UNNAMED_CONTROLS) == [], f"{path} has controls without a name"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    for path in ("/signin", "/signup"):
        page.goto(path)
        assert page.evaluate(OVERFLOW) <= 0, f"{path} scrolls sideways at 375 px"
        assert page.evaluate(UNNAMED_CONTROLS) == [], f"{path} has controls without a name"
