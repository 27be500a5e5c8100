"""A learner builds a labelled dataset in the browser, trains a ResNet-18 watching live curves, evaluates it
and predicts a new photo, in Chromium.

Data no one here wrote: scikit-learn's handwritten digits 0, 1 and 2, upscaled to 32x32 PNGs.
"""

from __future__ import annotations

import uuid
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items
from tests.ui.conftest import PASSWORD, PHONE, fits, screenshot, sign_up

DIGITS = ["zero", "one", "two"]
PER_CLASS = 7  # 21 photos drawn, 20 uploaded
PHOTOS = 20
VALIDATION = 3  # validation share 0.2 of 7, 7 and 6 photos: one of each class

# One evaluation in the page: the train-loss points drawn so far and the status shown at that moment.
POINTS_WHILE_RUNNING = """() => {
  const points = document.querySelectorAll('#loss-chart circle.point[data-series="train loss"]').length;
  const status = document.querySelector('#train-status');
  return points >= 2 ? {points, status: status ? status.textContent : null} : null;
}"""


def write_digits(folder: Path) -> list[tuple[Path, str]]:
    photos: list[tuple[Path, str]] = []
    counts: dict[int, int] = {}
    for image, label in digit_items(len(DIGITS), PER_CLASS)[:PHOTOS]:
        counts[label] = counts.get(label, 0) + 1
        path = folder / f"digit-{DIGITS[label]}-{counts[label]}.png"
        Image.fromarray(image).save(path)
        photos.append((path, DIGITS[label]))
    return photos


def test_learner_labels_trains_evaluates_and_predicts(page: Page, demo_stack: RunningStack, tmp_path: Path) -> None:
    """From sign-up to a trained, evaluated model, every step in the pages of a fresh stack with the demo's starter
    models (the REST client below only checks what the pages did)."""
    photos = write_digits(tmp_path)
    assert len(photos) == PHOTOS
    username = f"learner-{uuid.uuid4().hex[:8]}"
    sign_up(page, username)
    learner = demo_stack.client()
    learner.sign_in(username, PASSWORD)

    # A dataset, made on the Datasets page (reached from the menu).
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Datasets").click()
    page.wait_for_url("**/datasets")
    # Others' public datasets may be listed (tests share the stack): either the list or the empty notice shows.
    expect(page.locator("#no-datasets, #dataset-table").first).to_be_visible()
    page.get_by_label("Dataset name").fill("Digits in the browser")
    page.get_by_role("button", name="Create dataset").click()
    page.wait_for_url("**/datasets/*/*")  # owner/slug
    address = page.url.rstrip("/").split("/datasets/", 1)[1]  # owner/slug: where the dataset lives
    assert address == f"{username}/digits-in-the-browser"
    dataset_id = learner.http.get(f"/datasets/{address}").json()["id"]
    expect(page.locator("h1")).to_have_text("Digits in the browser")

    # Three classes, then 20 unlabelled photos.
    for name in ["zero", "one", "deux"]:
        page.get_by_label("New class").fill(name)
        page.get_by_role("button", name="Add class").click()
        expect(page.get_by_label(f"Rename class {name}")).to_be_visible()
    page.locator("#photos").set_input_files([str(path) for path, _ in photos])
    page.get_by_role("button", name="Upload photos").click()
    expect(page.locator("#upload-status")).to_have_text(f"Added {PHOTOS} photos.")
    expect(page.locator("#item-count")).to_have_text(str(PHOTOS))
    expect(page.locator("#labelled-count")).to_have_text("0")

    # A class renamed by typing and pressing Enter.
    rename = page.get_by_label("Rename class deux")
    rename.fill("two")
    rename.press("Enter")
    expect(page.get_by_label("Rename class two")).to_be_visible()
    expect(page.get_by_label("Rename class deux")).to_have_count(0)

    # Label every photo with its class's number key, on the "Unlabelled" view (the counts follow live).
    page.get_by_label("Show").select_option("false")
    expect(page.locator("#items figure")).to_have_count(PHOTOS)
    for done, (path, label) in enumerate(photos, start=1):
        page.locator(f'#items figure[aria-label="{path.name}: unlabelled"]').focus()
        page.keyboard.press(str(DIGITS.index(label) + 1))
        expect(page.locator("#labelled-count")).to_have_text(str(done))
    expect(page.locator("#no-items")).to_be_visible()
    page.get_by_label("Show").select_option("true")
    expect(page.locator("#items figure")).to_have_count(PHOTOS)
    page.wait_for_function(
        "() => [...document.querySelectorAll('#items img')].every((i) => i.complete && i.naturalWidth > 0)"
    )
    screenshot(page, "dataset")
    labelled = learner.http.get(f"/datasets/{dataset_id}").json()
    assert labelled["labelled_count"] == PHOTOS and labelled["classes"] == DIGITS

    # Training for two epochs, watched live, from the demo's untrained ResNet-18 starter.
    page.get_by_role("link", name="Train a classifier on this dataset").click()
    page.wait_for_url("**/train?dataset=*")
    expect(page.get_by_label("Dataset", exact=True)).to_have_value(dataset_id)  # the dataset it came from
    page.get_by_label("Model to start from").select_option("resnet18-starter")
    expect(page.locator("#size-hint")).to_contain_text("32×32")
    page.get_by_label("Epochs").fill("2")
    page.get_by_label("Batch size").fill("4")
    page.get_by_label("Target accuracy").fill("")
    page.get_by_label("Blur").check()
    target = page.get_by_label("New model name").input_value()
    assert target.startswith("digits-in-the-browser-")
    page.get_by_role("button", name="Start training").click()
    seen = page.wait_for_function(POINTS_WHILE_RUNNING, timeout=300_000, polling=50).json_value()
    assert seen["points"] >= 2
    assert seen["status"] in ("pending", "scheduled", "running"), seen
    expect(page.locator("#train-status")).to_have_text("succeeded", timeout=300_000)
    expect(page.locator('#accuracy-chart circle.point[data-series="val accuracy"]')).to_have_count(2)
    expect(page.locator("#new-version")).to_have_text(f"{target} version 1")
    screenshot(page, "train")

    # Evaluation of that model, by default on the photos training did not see (one of each class here).
    page.get_by_role("link", name="Evaluate it").click()
    page.wait_for_url("**/evaluate?*")
    expect(page.get_by_label("Model")).to_have_value(f"{username}/{target}")
    expect(page.get_by_label("Photos to evaluate on")).to_have_value(f"val:{dataset_id}")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.locator("#accuracy")).to_contain_text("Accuracy", timeout=300_000)
    expect(page.locator("#grid-title")).to_have_text("Validation photos (not seen in training), wrong ones first")
    right = int(page.locator("#right").inner_text())
    wrong = int(page.locator("#wrong").inner_text())
    assert right + wrong == VALIDATION
    expect(page.locator("#confusion tbody tr")).to_have_count(len(DIGITS))
    figures = page.locator("#predictions figure")
    expect(figures).to_have_count(VALIDATION)
    expect(page.locator("#predictions figure.wrong")).to_have_count(wrong)
    classes = figures.evaluate_all("(nodes) => nodes.map((node) => node.classList.contains('wrong'))")
    assert classes == sorted(classes, reverse=True)  # wrong ones first
    expect(figures.first.locator("li")).to_have_count(len(DIGITS))
    page.wait_for_function(
        "() => [...document.querySelectorAll('#predictions img')].every((i) => i.complete && i.naturalWidth > 0)"
    )

    # A new photo, predicted.
    page.locator("#photo").set_input_files(str(photos[0][0]))
    expect(page.locator("#top-classes li")).to_have_count(len(DIGITS), timeout=300_000)
    screenshot(page, "evaluate")

    # With a model of their own, Train offers "new version of my model": the page still fits a phone.
    page.set_viewport_size(PHONE)
    page.goto(f"/train?dataset={dataset_id}")
    expect(page.get_by_label("New version of my model")).to_be_enabled()
    fits(page)
