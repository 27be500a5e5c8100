"""Results kept, in Chromium: a segmentation found again the next day (a new browser context) by its photo's
name and thumbnail, with its masks previewed; a grantee opens someone else's training and may reproduce it;
anyone else reads a plain refusal, never a stuck "Loading…"."""

from __future__ import annotations

import numpy as np
from playwright.sync_api import Browser, Page, expect
from skimage import data as skdata

from tests.api.conftest import AUTO_PARAMS, png_bytes
from tests.api.test_task_history import train_tiny_cnn
from tests.conftest import RunningStack
from tests.ui.conftest import PHONE, fits, fresh_page, new_account, screenshot, sign_in


def test_a_segmentation_is_found_again_the_next_day(
    page: Page, browser: Browser, ui_stack: RunningStack, sam_resource: str
) -> None:
    scientist, username = new_account(ui_stack)
    upload = scientist.upload("snail-garden.png", png_bytes(np.asarray(skdata.coffee())))
    task = scientist.wait(
        scientist.submit(resource=sam_resource, version=1, inputs=[upload["id"]], params=AUTO_PARAMS)["id"]
    )
    assert task["status"] == "succeeded", task["error"]
    sign_in(page, username, next_path=f"/tasks/{task['id']}")  # today: the task page
    expect(page.locator("#task-status")).to_have_text("succeeded")

    with fresh_page(browser, ui_stack, PHONE) as later:  # the next day, on a phone: a new browser context
        sign_in(later, username, next_path="/tasks")
        card = later.locator(".task-card").filter(has_text="snail-garden.png")
        expect(card).to_contain_text("succeeded")
        expect(card).to_contain_text(f"{sam_resource} v1")
        thumb = card.get_by_role("img", name="preview of snail-garden.png")
        expect(thumb).to_be_visible()
        later.wait_for_function("img => img.complete && img.naturalWidth === 256", arg=thumb.element_handle())
        expect(card.get_by_role("link", name="Open in Segment")).to_have_attribute(
            "href", f"/segment?task={task['id']}"
        )
        fits(later)
        screenshot(later, "task-history")

        card.get_by_role("link", name="snail-garden.png").click()
        later.wait_for_url(f"**/tasks/{task['id']}")
        expect(later.locator(".task-inputs")).to_contain_text("snail-garden.png")
        blended = later.get_by_role("img", name="snail-garden/blended.png")
        expect(blended).to_be_visible()
        later.wait_for_function("img => img.complete && img.naturalWidth === 600", arg=blended.element_handle())
        expect(later.get_by_role("button", name="Download all (zip)")).to_be_visible()
        segments = later.locator(".output").filter(has_text="segments.json").locator(".output-summary")
        expect(segments).to_contain_text("segment")
        with later.expect_download() as saved:
            later.get_by_role("button", name="Download all (zip)").click()
        assert saved.value.suggested_filename == f"task-{task['id'][:8]}-outputs.zip"
        fits(later)
        screenshot(later, "task-previews")


def test_a_grantee_opens_someone_elses_training_and_may_reproduce_it(
    page: Page, browser: Browser, ui_stack: RunningStack
) -> None:
    learner, _ = new_account(ui_stack)
    researcher, researcher_name = new_account(ui_stack)
    source, dataset_id, task = train_tiny_cnn(learner)
    learner.grant(task["result"]["resource"], researcher_name, "use")
    learner.grant(source, researcher_name, "use")
    granted = learner.http.post(
        f"/datasets/{dataset_id}/grants", json={"username": researcher_name, "permission": "use"}
    )
    assert granted.status_code == 201, granted.text

    with fresh_page(browser, ui_stack, PHONE) as stranger:
        _, stranger_name = new_account(ui_stack)
        sign_in(stranger, stranger_name, next_path=f"/tasks/{task['id']}")
        expect(stranger.locator("#task-error")).to_contain_text("no task")
        expect(stranger.get_by_text("Loading…")).to_have_count(0)

    # The researcher starts where a reader of a paper would: the published model's page, its Versions tab.
    trained = task["result"]["resource"]
    sign_in(page, researcher_name, next_path=f"/resources/{learner.username}/{trained}")
    page.get_by_role("tab", name="Versions").click()
    page.locator(f"a[data-task='{task['id']}']").click()
    page.wait_for_url(f"**/tasks/{task['id']}")
    expect(page.locator("#public-view")).to_contain_text(f"{learner.username}'s task")
    expect(page.locator("ol.steps li.succeeded")).to_have_count(3)
    expect(page.get_by_role("link", name="manifest.json")).to_be_visible()
    expect(page.get_by_role("img", name="curves.png")).to_be_visible()
    expect(page.locator(".output.withheld")).to_have_count(0)  # the source may be downloaded by a `use` holder
    expect(page.locator("#logs")).to_have_count(0)
    screenshot(page, "task-public-view")
    page.get_by_role("button", name="Reproduce").click()
    page.wait_for_url(lambda url: task["id"] not in url)
    again = page.url.rsplit("/", 1)[-1]
    expect(page.locator("#task-status")).to_have_text("succeeded", timeout=300_000)  # the researcher's own run
    reproduced = researcher.task(again)
    assert reproduced["reproduces"] == task["id"]
    assert reproduced["owner"] == researcher_name, reproduced
    # The re-run publishes nothing; its report says whether it came out the same (one CPU: bit for bit).
    report = page.locator("#reproduction")
    expect(report).to_contain_text("Reproduction report: pass", timeout=30_000)
    expect(report).to_contain_text("bit-for-bit identical")
    screenshot(page, "task-reproduced")
