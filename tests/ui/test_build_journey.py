"""A learner builds a small CNN for digits on the Build page, sees a validation error appear and go away,
reorders and removes blocks by keyboard, mouse and drag, saves it and trains it for two epochs, in Chromium.

Data no one here wrote: scikit-learn's handwritten digits 0, 1 and 2, upscaled to 32x32 PNGs (the model
takes them at 16x16 in grayscale).
"""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Locator, Page, expect

from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items
from tests.ui.conftest import new_account, screenshot, sign_in
from tests.ui.test_accessibility import OVERFLOW, UNNAMED_CONTROLS, png

DIGITS = ["zero", "one", "two"]
PER_CLASS = 10
FLAT = 8 * 8 * 8  # 8 channels of 16x16 pooled to 8x8
BUILT = ["Conv2d", "ReLU", "MaxPool2d", "Flatten", "Linear"]
SHAPES = ["8×16×16", "8×16×16", "8×8×8", str(FLAT), str(len(DIGITS))]
TYPES = "(items) => items.map((item) => item.dataset.type)"
FOCUSED = "() => document.activeElement.getAttribute('aria-label')"


def block(page: Page, number: int, kind: str) -> Locator:
    return page.get_by_role("listitem", name=f"block {number} {kind}", exact=True)


def test_build_a_cnn_save_it_and_train_it(page: Page, ui_stack: RunningStack) -> None:
    learner, username = new_account(ui_stack)
    dataset = learner.http.post("/datasets", json={"name": "Digits to build for", "classes": DIGITS}).json()
    items = digit_items(len(DIGITS), PER_CLASS)
    for label, digit in enumerate(DIGITS):
        mine = [image for image, of in items if of == label]
        photos = [("files", (f"{digit}-{i}.png", png(image), "image/png")) for i, image in enumerate(mine)]
        added = learner.http.post(f"/datasets/{dataset['id']}/items", files=photos, data={"class": digit})
        assert added.status_code == 201, added.text
    assert learner.http.get(f"/datasets/{dataset['id']}").json()["labelled_count"] == PER_CLASS * len(DIGITS)

    # The model's settings: a title that names it, 1 channel of 16x16, the dataset's three classes.
    sign_in(page, username, next_path="/build")
    expect(page.get_by_role("button", name="Add Conv2d")).to_be_visible()
    suffix = uuid.uuid4().hex[:6]
    page.get_by_label("Title", exact=True).fill(f"Digits CNN {suffix}")
    name = f"digits-cnn-{suffix}"
    expect(page.get_by_label("Model name")).to_have_value(name)
    page.get_by_label("Input channels").select_option("1")
    page.get_by_label("Input size").fill("16")
    page.get_by_label("Classes from dataset").select_option(dataset["id"])
    expect(page.locator("#classes-hint")).to_have_text("3 classes: zero, one, two")
    expect(page.locator("#save")).to_be_disabled()

    # Five blocks from the palette; the first one's parameters edited in the side panel.
    page.get_by_role("button", name="Add Conv2d").click()
    expect(page.locator("#panel-title")).to_have_text("Block 1: Conv2d")
    expect(page.locator("#param-in_channels")).to_have_value("1")
    page.locator("#param-out_channels").fill("8")
    page.locator("#param-padding").fill("1")
    for kind in BUILT[1:]:
        page.get_by_role("button", name=f"Add {kind}").click()
    expect(page.locator("#stack > li")).to_have_count(len(BUILT))
    expect(page.locator("#panel-title")).to_have_text("Block 5: Linear")
    expect(page.locator("#param-out_features")).to_have_value(str(len(DIGITS)))
    expect(page.locator("#validation")).to_contain_text("Valid")

    # A wrong input size for the Linear block: the error names it, the block is marked, Save is off.
    page.locator("#param-in_features").fill("100")
    expect(page.locator("#validation")).to_contain_text("block 5 Linear expects")
    expect(block(page, 5, "Linear")).to_have_attribute("aria-invalid", "true")
    expect(block(page, 5, "Linear")).to_have_class(re.compile(r"\binvalid\b"))
    expect(page.locator("#param-in_features")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#save")).to_be_disabled()

    # Fixed: the error goes, the shapes show between the blocks and Save is on.
    page.locator("#param-in_features").fill(str(FLAT))
    expect(page.locator("#validation")).not_to_contain_text("expects")
    expect(page.locator("#validation")).to_contain_text(f"Valid: output {len(DIGITS)}")
    expect(page.locator("#validation")).to_contain_text("MB to predict")  # what a photo costs, before saving
    expect(block(page, 5, "Linear")).not_to_have_attribute("aria-invalid", "true")
    expect(page.locator("#input-shape")).to_have_text("1×16×16")
    expect(page.locator("#stack > li .shape-value")).to_have_text(SHAPES)
    expect(page.locator("#save")).to_be_enabled()

    # By keyboard: a Dropout added last, moved up before the Linear block with Alt+ArrowUp.
    page.get_by_role("button", name="Add Dropout").focus()
    page.keyboard.press("Enter")
    block(page, 6, "Dropout").focus()
    page.keyboard.press("Alt+ArrowUp")
    expect(block(page, 5, "Dropout")).to_be_visible()
    expect(block(page, 6, "Linear")).to_be_visible()
    assert page.evaluate(FOCUSED) == "block 5 Dropout"
    expect(page.locator("#stack > li .shape-value")).to_have_text([*SHAPES[:4], str(FLAT), SHAPES[4]])

    # By mouse: a Sigmoid dragged from the palette to before the ReLU, then removed with the Delete key;
    # the Dropout removed with its button.
    page.set_viewport_size({"width": 1280, "height": 1600})  # the palette entry and the stack both in view
    page.get_by_role("button", name="Add Sigmoid").drag_to(block(page, 2, "ReLU"), target_position={"x": 12, "y": 3})
    expect(block(page, 2, "Sigmoid")).to_be_visible()
    expect(block(page, 3, "ReLU")).to_be_visible()
    block(page, 2, "Sigmoid").focus()
    page.keyboard.press("Delete")
    expect(block(page, 2, "ReLU")).to_be_visible()
    assert page.evaluate(FOCUSED) == "block 2 ReLU"
    page.get_by_role("button", name="Remove block 5", exact=True).click()
    assert page.locator("#stack > li").evaluate_all(TYPES) == BUILT
    expect(page.locator("#stack > li .shape-value")).to_have_text(SHAPES)
    expect(page.locator("#validation")).to_contain_text(f"Valid: output {len(DIGITS)}")

    # Saved as version 1 of a new model.
    page.get_by_role("button", name="Save version").click()
    expect(page.locator("#saved")).to_contain_text(f"Saved {name} version 1")
    config = learner.http.get(f"/resources/{name}/versions/1").json()["config"]
    assert [b["type"] for b in config["blocks"]] == BUILT
    assert config["input_channels"] == 1 and config["input_size"] == 16 and config["classes"] == DIGITS
    assert config["blocks"][0]["out_channels"] == 8 and config["blocks"][4]["in_features"] == FLAT
    assert learner.http.get(f"/resources/{name}").json()["kind"] == "classifier.blocks"
    block(page, 1, "Conv2d").click()
    expect(page.locator("#panel-title")).to_have_text("Block 1: Conv2d")
    page.get_by_role("button", name="Add Conv2d").hover()
    expect(page.locator("#palette-help")).to_contain_text("Conv2d:")
    screenshot(page, "build")

    # On a phone: one column, no sideways scrolling, every control named.
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate(OVERFLOW) <= 0, "/build scrolls sideways at 375 px"
    assert page.evaluate(UNNAMED_CONTROLS) == []
    screenshot(page, "build-phone")
    page.set_viewport_size({"width": 1280, "height": 900})

    # Trained for two epochs from the Train page, which the link opens with the model and dataset chosen.
    page.get_by_role("link", name="Train it").click()
    page.wait_for_url("**/train?*")
    expect(page.get_by_label("Model to start from")).to_have_value(name)
    expect(page.locator("#dataset")).to_have_value(dataset["id"])
    expect(page.locator("#size-hint")).to_contain_text("16×16 pixels, 1 channel (grayscale) for a model of 5 blocks")
    expect(page.locator("#size-hint")).not_to_contain_text("cannot be retrained")
    page.get_by_label("Epochs").fill("2")
    page.get_by_label("Batch size").fill("4")
    page.get_by_label("Target accuracy").fill("")
    target = page.get_by_label("New model name").input_value()
    page.get_by_role("button", name="Start training").click()
    expect(page.locator("#train-status")).to_have_text(re.compile("^(succeeded|failed|cancelled)$"), timeout=300_000)
    assert page.locator("#train-status").inner_text() == "succeeded", page.locator("#train-result").inner_text()
    expect(page.locator('#accuracy-chart circle.point[data-series="val accuracy"]')).to_have_count(2)
    expect(page.locator("#epoch-text")).to_contain_text("Epoch 2 of 2")
    expect(page.locator("#new-version")).to_have_text(f"{target} version 1")
    task_id = re.sub(r".*[?&]task=", "", page.url)
    assert len(learner.http.get(f"/tasks/{task_id}/metrics").json()) == 2
    # The best epoch is published and marked on the curve; a validation split this small is warned about.
    best = learner.http.get(f"/tasks/{task_id}").json()["result"]["best_epoch"]
    expect(page.locator("#best-epoch-mark")).to_have_text(f"published: epoch {best}")
    expect(page.locator("#trained")).to_contain_text(f"(epoch {best}, the best by validation accuracy")
    expect(page.locator("#train-warnings")).to_contain_text(re.compile(r"validation split has \d+ photos; accuracy"))
    title = learner.http.get(f"/resources/{target}").json()["title"]
    assert re.fullmatch(r"CNN from blocks trained on Digits to build for, \d+ % val\.", title), title
