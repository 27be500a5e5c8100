"""A learner makes an augmented copy of a dataset from its page: chosen operations, a live task, a link to the
new dataset, which shows where it came from, in Chromium.

Data no one here wrote: scikit-learn's handwritten digits 0 and 1, as 32x32 PNGs.
"""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items
from tests.ui.conftest import new_account, screenshot, sign_in
from tests.ui.test_accessibility import png

DIGITS = ["zero", "one"]


def test_augment_a_dataset_from_its_page(page: Page, ui_stack: RunningStack) -> None:
    learner, username = new_account(ui_stack)
    dataset = learner.http.post("/datasets", json={"name": "Few digits", "classes": DIGITS}).json()
    for index, (image, label) in enumerate(digit_items(2, 3)):
        added = learner.http.post(
            f"/datasets/{dataset['id']}/items",
            files=[("files", (f"d{index}.png", png(image), "image/png"))],
            data={"class": DIGITS[label]},
        )
        assert added.status_code == 201, added.text

    sign_in(page, username, next_path=f"/datasets/{dataset['id']}")
    expect(page.locator("#augment")).to_be_visible()
    expect(page.locator("#augment-estimate")).to_have_text(
        "6 photos → 30 photos in the new dataset (labels carried over)."
    )
    page.get_by_label("Blurred with radius", exact=True).uncheck()
    page.get_by_label("Rotated by (degrees)").fill("-30")
    expect(page.locator("#augment-estimate")).to_have_text(
        "6 photos → 24 photos in the new dataset (labels carried over)."
    )
    page.get_by_label("New dataset's name").fill("Few digits, turned and mirrored")
    page.get_by_role("button", name="Make augmented copy").click()
    link = page.locator("#augmented-link")
    expect(link).to_have_text("Few digits, turned and mirrored", timeout=120_000)
    expect(page.locator("#augment-status")).to_have_text("succeeded")
    screenshot(page, "augment")

    link.click()
    page.wait_for_url("**/datasets/**")
    expect(page.locator("h1")).to_have_text("Few digits, turned and mirrored")
    expect(page.locator("#item-count")).to_have_text("24")
    expect(page.locator("#labelled-count")).to_have_text("24")
    expect(page.locator("#lineage")).to_contain_text("Derived from Few digits by augment (rotate -30°, flip, flop)")
