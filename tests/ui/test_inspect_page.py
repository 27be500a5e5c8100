"""The Inspect page in Chromium: one digit through the INT8 version of a trained ResNet-18, unit by unit.

Set-up over REST: a ResNet-18 trained on scikit-learn's digits 0-2 at 32 px (`trained_digits`) is published
as a float version and an export task makes its INT8 version. In the browser the user runs an inspection
of the INT8 version, chooses unit "layer2.0" in the graph (by mouse, then the rest by keyboard), sees its
statistics and feature maps, and switches the numbers to float.
"""

from __future__ import annotations

import re
from pathlib import Path

from PIL import Image
from playwright.sync_api import Page, expect

from tests.api.test_classifier_export_api import publish_and_export
from tests.conftest import RunningStack
from tests.resources.test_classifier_data import digit_items
from tests.ui.conftest import new_account, screenshot, sign_in
from tests.ui.test_accessibility import OVERFLOW, UNNAMED_CONTROLS

BLOCKS = 8  # ResNet-18: 4 stages of 2 residual blocks, each one add and one connection around its layers
STATS = ("min", "max", "mean", "std")
MAPS_LOADED = """() => {
  const image = document.querySelector('#unit-maps');
  return Boolean(image && image.complete && image.naturalWidth > 0);
}"""


def shown_stats(page: Page) -> dict[str, str]:
    return {key: page.locator(f"#unit-stats [data-stat={key}]").inner_text() for key in STATS}


def test_inspect_an_int8_version_unit_by_unit(page: Page, ui_stack: RunningStack, tmp_path: Path) -> None:
    user, username = new_account(ui_stack)
    name, _, exported = publish_and_export(user, tmp_path)
    int8 = exported["result"]["version"]
    digit = tmp_path / "digit-two.png"
    Image.fromarray(digit_items(3, 1, skip=45)[2][0]).save(digit)

    # Choose the INT8 version; running without a photo says what is missing.
    sign_in(page, username, next_path="/inspect")
    page.get_by_label("Model", exact=True).select_option(name)
    page.get_by_label("Version", exact=True).select_option(str(int8))
    expect(page.locator("#version option:checked")).to_contain_text("INT8")
    expect(page.locator("#version-hint")).to_contain_text("INT8 version")
    page.get_by_role("button", name="Inspect", exact=True).click()
    expect(page.locator("#error")).to_have_text("Choose or drop one photo first.")
    page.locator("#photo").set_input_files(str(digit))
    expect(page.locator("#photo-preview img")).to_be_visible()
    page.get_by_role("button", name="Inspect", exact=True).click()
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=300_000)
    expect(page.locator("#error")).to_be_hidden()
    task_id = re.sub(r".*[?&]task=", "", page.url)

    # The graph: every residual block's add and the connection around it.
    graph = page.locator("#model-graph")
    expect(graph.locator("g.node.op-add")).to_have_count(BLOCKS)
    expect(graph.locator("path.edge.skip")).to_have_count(BLOCKS)
    expect(page.locator("#unit-title")).to_contain_text("stem")

    # Click a layer of unit layer2.0: the whole unit is selected and its numbers show.
    page.get_by_role("button", name=re.compile(r"^layer2\.0\.conv1, Conv2d")).click()
    expect(page.locator("#unit-title")).to_contain_text("layer2.0")
    members = graph.locator('[data-unit="layer2.0"]')
    expect(graph.locator('[data-unit="layer2.0"][aria-pressed="true"]')).to_have_count(members.count())
    expect(page.locator("#unit-stats [data-stat=precision]")).to_have_text("INT8")
    expect(page.locator("#unit-stats [data-stat=output_shape]")).to_have_text("1×128×4×4")
    expect(page.locator("#unit-histogram rect.bar")).to_have_count(32)
    expect(page.locator("#unit-cross [data-cost=float_then_int8]")).to_have_text(re.compile(r"^-?\d\.\d\de[+-]\d+$"))
    page.wait_for_function(MAPS_LOADED)
    page.get_by_label("Counts on a log scale").check()
    expect(page.locator("#unit-histogram")).to_have_attribute("aria-label", re.compile("log scale"))
    int8_stats = shown_stats(page)
    int8_maps = page.locator("#unit-maps").get_attribute("src")

    # The toggle: the same unit, in float.
    page.get_by_role("radio", name=re.compile(r"^Float")).check()
    expect(page.locator("#unit-stats [data-stat=precision]")).to_have_text("float")
    expect(page.locator("#unit-title")).to_contain_text("layer2.0")
    page.wait_for_function(MAPS_LOADED)
    assert page.locator("#unit-maps").get_attribute("src") != int8_maps
    float_stats = shown_stats(page)
    assert float_stats != int8_stats, (float_stats, int8_stats)
    screenshot(page, "inspect")

    # By keyboard: the last node (the output, unit fc), then back up one rank to the classifier layer.
    page.get_by_role("button", name=re.compile(r"^layer2\.0\.conv1, Conv2d")).focus()
    page.keyboard.press("End")
    page.keyboard.press("ArrowUp")
    assert page.evaluate("() => document.activeElement.dataset.id") == "fc"
    page.keyboard.press("Enter")
    expect(page.locator("#unit-title")).to_contain_text("fc")
    expect(page.locator("#unit-no-maps")).to_be_visible()
    page.get_by_label("Unit", exact=True).select_option("layer2.0")
    expect(page.locator("#unit-title")).to_contain_text("layer2.0")

    # The task page links back here, and the link opens the finished inspection directly.
    page.goto(f"/tasks/{task_id}")
    page.get_by_role("link", name="Open in Inspect").click()
    page.wait_for_url(f"**/inspect?task={task_id}")
    expect(graph.locator("g.node.op-add")).to_have_count(BLOCKS)
    expect(page.get_by_label("Version", exact=True)).to_have_value(str(int8))
    page.wait_for_function(MAPS_LOADED)

    # On a phone: no sideways scrolling (the graph scrolls in its frame), every control named.
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate(OVERFLOW) <= 0, "/inspect scrolls sideways at 375 px"
    assert page.evaluate(UNNAMED_CONTROLS) == []
    screenshot(page, "inspect-phone")

    # A task that is not there: a readable error.
    page.goto("/inspect?task=no-such-task")
    expect(page.locator("#error")).to_be_visible()
    expect(page.locator("#error")).not_to_be_empty()
