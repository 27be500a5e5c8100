"""Dataset sharing on the dataset page (issue 17): the owner grants a user, who then sees the dataset; the owner
makes it public, a second user asks for access, the owner approves on the page, then revokes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.test_datasets_api import add, new_dataset
from tests.conftest import RunningStack
from tests.registry.test_datasets import photo
from tests.ui.conftest import console_problem, new_account, screenshot, sign_in


@pytest.fixture
def second_page(browser: Browser, ui_stack: RunningStack) -> Iterator[Page]:
    """Another person's browser (its own cookies and storage), 375 px wide like a phone."""
    context = browser.new_context(base_url=ui_stack.settings.api_url, viewport={"width": 375, "height": 800})
    context.set_default_timeout(20_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(console_problem(message)))
    opened.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    yield opened
    context.close()
    assert not [text for text in problems if text], f"the second page logged errors or warnings: {problems}"


def fits(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, f"{page.url} is {width} px wide at 375 px"


def test_owner_grants_and_answers_requests_on_the_dataset_page(
    page: Page, second_page: Page, ui_stack: RunningStack
) -> None:
    owner, owner_name = new_account(ui_stack)
    reader, reader_name = new_account(ui_stack)
    _, asker_name = new_account(ui_stack)
    name = f"Cats {uuid.uuid4().hex[:6]}"
    dataset = new_dataset(owner, name=name, classes=["cat"])
    assert add(owner, dataset["id"], {"a.png": photo(0)}, label="cat").status_code == 201
    where = f"/datasets/{owner_name}/{dataset['slug']}"
    assert reader.http.get(f"/datasets/{dataset['id']}").status_code == 404

    # The owner grants the reader `use` on the page; the reader then sees the dataset
    sign_in(page, owner_name, next_path=where)
    expect(page.locator("#no-dataset-requests")).to_be_visible()
    rights = page.locator("#dataset-rights")
    rights.get_by_label("User name (or group name)").fill(reader_name)
    rights.get_by_label("Right", exact=True).select_option("use")
    rights.get_by_role("button", name="Grant").click()
    expect(page.locator("#dataset-rights-grants tbody tr", has_text=reader_name)).to_contain_text("use")
    sign_in(second_page, reader_name, next_path=where)
    expect(second_page.locator("h1")).to_have_text(name)
    expect(second_page.locator("#items figure")).to_have_count(1)
    expect(second_page.locator("#dataset-your-rights")).to_contain_text("You hold use")
    expect(second_page.get_by_label("Right to ask for").locator("option")).to_have_count(1)  # modify only
    fits(second_page)

    # The owner makes it public; a second user asks for `use`
    page.get_by_label("Visibility").select_option("public")
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("#counts")).to_contain_text("public")
    sign_in(second_page, asker_name, next_path=where)
    expect(second_page.locator("#dataset-your-rights")).to_contain_text("You may look at this public dataset")
    second_page.get_by_label("Right to ask for").select_option("use")
    second_page.get_by_label("Message to the owner").fill("For my cat survey")
    second_page.get_by_role("button", name="Ask for access").click()
    expect(second_page.locator("[data-request-state='pending']")).to_contain_text("use right")
    expect(second_page.get_by_label("Right to ask for").locator("option")).to_have_count(1)  # modify is left
    fits(second_page)
    screenshot(second_page, "dataset-ask-for-access")

    # The owner approves it on the page: the grant shows at once
    page.reload()
    row = page.locator("#dataset-requests tbody tr", has_text=asker_name)
    expect(row).to_contain_text("For my cat survey")
    screenshot(page, "dataset-sharing-owner")
    page.get_by_role("button", name=f"Approve use for {asker_name}").click()
    expect(page.locator("#no-dataset-requests")).to_be_visible()
    expect(page.locator("#dataset-rights-grants tbody tr", has_text=asker_name)).to_contain_text("use")
    expect(page.locator("#activity-list")).to_contain_text(f"approved {asker_name}'s request for use")
    second_page.reload()
    expect(second_page.locator("#dataset-your-rights")).to_contain_text("You hold use")
    expect(second_page.locator("[data-request-state='approved']")).to_contain_text("approved your request")

    # … and revokes it: the asker is back to asking
    page.get_by_role("button", name=f"Revoke use from {asker_name}").click()
    expect(page.locator("#dataset-rights-grants tbody tr", has_text=asker_name)).to_have_count(0)
    second_page.reload()
    expect(second_page.locator("#dataset-your-rights")).to_contain_text("You may look at this public dataset")
    expect(second_page.get_by_label("Right to ask for").locator("option")).to_have_count(2)
