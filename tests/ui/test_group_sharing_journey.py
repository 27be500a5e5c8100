"""A provider shares a private model with a group in the browser; a member trains from it; the member's model
stays within the group; the provider sees the training in the Activity panel; releasing derivatives lets the
member make the model public (issue 14)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.api.test_provider_rights_api import TRAIN, TWO_CLASS_CNN, small_dataset
from tests.conftest import RunningStack
from tests.ui.conftest import new_account, screenshot, sign_in


@pytest.fixture
def second_page(browser: Browser, ui_stack: RunningStack) -> Iterator[Page]:
    """Another person's browser (its own cookies and storage)."""
    context = browser.new_context(base_url=ui_stack.settings.api_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()


def test_a_group_shares_a_model_and_keeps_what_its_members_make(
    page: Page, second_page: Page, ui_stack: RunningStack
) -> None:
    provider, provider_name = new_account(ui_stack)
    member, member_name = new_account(ui_stack)
    lead, lead_name = new_account(ui_stack)
    outsider, _ = new_account(ui_stack)
    model = f"lab-model-{uuid.uuid4().hex[:6]}"
    provider.create_resource(name=model, kind="classifier.blocks", title="The lab's private CNN")
    created = provider.http.post(f"/resources/{model}/versions", data={"config": json.dumps(TWO_CLASS_CNN)})
    assert created.status_code == 201, created.text
    group = f"lab-{uuid.uuid4().hex[:6]}"

    # The lead creates the group and adds the member on the Groups page
    sign_in(second_page, lead_name, next_path="/groups")
    second_page.locator("#group-name").fill(group)
    second_page.get_by_role("button", name="Create group").click()
    card = second_page.locator(f"[data-group='{group}']")
    expect(card).to_contain_text("you are maintainer")
    card.get_by_label(f"Add a member to {group}").fill(member_name)
    card.get_by_role("button", name="Add member").click()
    expect(card.locator(f"[data-member='{member_name}']")).to_contain_text("member")
    screenshot(second_page, "groups-page")

    # The provider grants `use` to the group on the Provide page
    sign_in(page, provider_name, next_path=f"/provide?resource={model}")
    page.get_by_label("Grant to").select_option("group")
    page.get_by_label("User name (or group name)").fill(group)
    page.get_by_label("Right", exact=True).select_option("use")
    page.get_by_role("button", name="Grant").click()
    expect(page.locator("#grants tbody tr", has_text=f"group {group}")).to_contain_text("use")

    # The member trains a copy of their own from it (over REST, as the Train page does)
    data = small_dataset(member)
    copy = f"{model}-mine"
    task = member.submit(
        resource=model, version=1, mode="train", dataset=data["id"], params={**TRAIN, "publish_as": copy}
    )
    done = member.wait(task["id"], timeout=600)
    assert done["status"] == "succeeded", done["error"]

    # It may be shared with the group (every member may read the source), not made public
    granted = member.http.post(f"/resources/{copy}/grants", json={"group": group, "permission": "use"})
    assert granted.status_code == 201, granted.text
    assert lead.http.get(f"/resources/{copy}").status_code == 200
    assert outsider.http.get(f"/resources/{copy}").status_code == 404
    second_page.goto(f"/resources/{copy}")
    expect(second_page.locator("#sources")).to_contain_text(model)

    # The provider sees the training in the model's Activity panel
    page.goto(f"/resources/{model}")
    activity = page.locator("#activity-list")
    expect(activity).to_contain_text(f"{member_name} ran a train task on version 1")
    expect(activity).to_contain_text(f"granted use to group {group}")
    screenshot(page, "activity-panel")

    # The member cannot make the copy public until the provider releases derivatives
    sign_in(second_page, member_name, next_path=f"/provide?resource={copy}")
    second_page.locator("#policy-visibility").select_option("public")
    second_page.get_by_role("button", name="Save policy").click()
    expect(second_page.locator("#error")).to_contain_text(f"made from resource '{model}' of {provider_name}")
    page.goto(f"/provide?resource={model}")
    page.locator("#policy-derivatives").select_option("open")
    page.get_by_role("button", name="Save policy").click()
    expect(page.locator("#policy-derivatives")).to_have_value("open")
    second_page.reload()
    second_page.locator("#policy-visibility").select_option("public")
    second_page.get_by_role("button", name="Save policy").click()
    expect(second_page.locator("#policy-visibility")).to_have_value("public")
    assert ui_stack.client().http.get(f"/resources/{copy}").status_code == 200
    assert outsider.http.get(f"/resources/{copy}").status_code == 200
