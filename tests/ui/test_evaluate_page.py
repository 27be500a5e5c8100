"""A learner trains the demo's small CNN from blocks, then "Evaluate it" opens that very model; Evaluate defaults
to the photos training did not see, marks the ones it saw, shades its confusion matrix, and fixes a wrong label
from the grid; a second training becomes the next version of the learner's model, in Chromium.

Data no one here wrote: scikit-learn's handwritten digits 0-9, as 32x32 PNGs.
"""

from __future__ import annotations

import io
import re

from PIL import Image
from playwright.sync_api import Page, expect

from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items
from tests.ui.conftest import new_account, screenshot, sign_in

STARTER = "small-cnn-starter"  # the demo's blocks CNN: 32x32 colour photos, 10 outputs
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
PER_CLASS = 3  # one of each class validates (val share 0.34), two train
VALIDATION = len(DIGITS)
PHOTOS = len(DIGITS) * PER_CLASS
PAGE_SIZE = 24  # photos per page of the grid
SHADES = """() => [...document.querySelectorAll('#confusion td.cm-cell')]
  .map((cell) => [...cell.classList].find((name) => name.startsWith('shade-')))"""


def png(image: object) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")  # type: ignore[arg-type]
    return buffer.getvalue()


def train(page: Page, *, epochs: str = "1") -> None:
    page.get_by_label("Model to start from").select_option(STARTER)
    page.get_by_label("Epochs").fill(epochs)
    page.get_by_label("Batch size").fill("8")
    page.get_by_label("Target accuracy").fill("")
    page.get_by_label("Validation share").fill("0.34")


def test_blocks_model_is_evaluated_on_unseen_photos_and_a_label_fixed(page: Page, demo_stack: RunningStack) -> None:
    learner, username = new_account(demo_stack)
    dataset = learner.http.post("/datasets", json={"name": "Ten digits", "classes": DIGITS}).json()
    for index, (image, label) in enumerate(digit_items(len(DIGITS), PER_CLASS, size=32)):
        added = learner.http.post(
            f"/datasets/{dataset['id']}/items",
            files={"files": (f"digit-{index:02d}.png", png(image), "image/png")},
            data={"class": DIGITS[label]},
        )
        assert added.status_code == 201, added.text

    # Train the starter as a new model of the learner's; nothing of theirs can take a version yet.
    sign_in(page, username, next_path=f"/train?dataset={dataset['id']}")
    train(page)
    expect(page.get_by_label("New version of my model")).to_be_disabled()
    expect(page.locator("#publish-to-help")).to_contain_text("no model from blocks of your own yet")
    target = page.get_by_label("New model name").input_value()
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("#train-status")).to_have_text("succeeded", timeout=300_000)
    expect(page.locator("#new-version")).to_have_text(f"{target} version 1")

    # "Evaluate it" opens that blocks model, on the validation photos of its training dataset.
    page.get_by_role("link", name="Evaluate it").click()
    page.wait_for_url("**/evaluate?*")
    expect(page.get_by_label("Model")).to_have_value(f"{username}/{target}")
    expect(page.locator("#model-missing")).to_have_count(0)
    expect(page.get_by_label("Photos to evaluate on")).to_have_value(f"val:{dataset['id']}")
    expect(page.locator("#photos option:checked")).to_contain_text(f"not seen in training: {VALIDATION}")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.locator("#grid-title")).to_have_text(
        "Validation photos (not seen in training), wrong ones first", timeout=300_000
    )
    figures = page.locator("#predictions figure")
    expect(figures).to_have_count(VALIDATION)
    expect(page.locator("#predictions figure.seen")).to_have_count(0)
    right = int(page.locator("#right").inner_text())
    wrong = int(page.locator("#wrong").inner_text())
    assert right + wrong == VALIDATION and wrong > 0, (right, wrong)

    # The matrix is shaded: empty cells and filled ones differ.
    expect(page.locator("#confusion tbody tr")).to_have_count(len(DIGITS))
    shades = page.evaluate(SHADES)
    assert len(shades) == len(DIGITS) ** 2 and "shade-0" in shades
    assert len(set(shades)) >= 2, shades
    screenshot(page, "evaluate-validation")

    # Relabel the first wrong photo as its prediction: the grid and the counts follow, and so does the dataset.
    first = page.locator("#predictions figure.wrong").first
    item = first.get_attribute("data-item")
    predicted = re.sub(r"^.*predicted (\w+).*$", r"\1", first.locator("figcaption strong").inner_text())
    fix = first.get_by_label(re.compile("^Correct class of "))
    expect(fix).to_have_value(predicted)
    first.get_by_role("button", name="Fix label").click()
    fixed = page.locator(f'#predictions figure[data-item="{item}"]')
    expect(fixed).to_have_class(re.compile(r"\bright\b"))
    expect(fixed).to_contain_text(f"label fixed to {predicted}")
    expect(page.locator("#right")).to_have_text(str(right + 1))
    assert learner.http.get(f"/datasets/{dataset['id']}/items/{item}").json()["class"] == predicted

    # All photos: the ones training saw are marked.
    page.get_by_label("Photos to evaluate on").select_option(f"all:{dataset['id']}")
    page.get_by_role("button", name="Evaluate", exact=True).click()
    expect(page.locator("#grid-title")).to_have_text(
        f"All photos ({PHOTOS - VALIDATION} seen in training), wrong ones first", timeout=300_000
    )
    expect(figures).to_have_count(PAGE_SIZE)
    expect(page.locator("#predictions .seen-badge").first).to_have_text("seen in training")
    seen = page.locator("#predictions figure.seen").count()
    page.get_by_role("button", name="Next").click()
    expect(figures).to_have_count(PHOTOS - PAGE_SIZE)
    seen += page.locator("#predictions figure.seen").count()
    assert seen == PHOTOS - VALIDATION

    # Train again, as the next version of the model just made.
    page.goto(f"/train?dataset={dataset['id']}")
    train(page)
    page.get_by_label("New version of my model").check()
    expect(page.get_by_label("New model name")).to_be_hidden()
    page.get_by_label("Model to add a version to").select_option(target)
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("#train-status")).to_have_text("succeeded", timeout=300_000)
    expect(page.locator("#new-version")).to_have_text(f"{target} version 2")
    assert learner.http.get(f"/resources/{target}").json()["latest_version"] == 2
