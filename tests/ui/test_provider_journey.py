"""The provider's journey in the browser: grant, ask for access, approve, publish as a modifier; Explore signed out."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from launcher.client import CommonsClient
from tests.conftest import RunningStack
from tests.ui.conftest import new_account, screenshot, sign_in

ARCH_ONLY = {"arch": "resnet18", "classes": ["cat", "dog"], "input_size": 64}


def classifier(
    stack: RunningStack, *, visibility: str = "public", with_version: bool = True
) -> tuple[CommonsClient, str, str]:
    provider, provider_name = new_account(stack)
    name = f"cls-{uuid.uuid4().hex[:8]}"
    provider.create_resource(
        name=name, kind="classifier.resnet", title=f"Pets {name}", visibility=visibility, citation="He et al. 2016"
    )
    if with_version:
        provider.upload_version(name, files=[], config=ARCH_ONLY, reported_metrics={"accuracy": 0.9})
    return provider, provider_name, name


def assert_fits_phone(page: Page) -> None:
    """At 375 px wide the page scrolls only vertically."""
    page.set_viewport_size({"width": 375, "height": 800})
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 900})


def test_provider_grants_approves_and_a_modifier_publishes(page: Page, ui_stack: RunningStack) -> None:
    _, provider_name, name = classifier(ui_stack)
    _, b_name = new_account(ui_stack)
    _, c_name = new_account(ui_stack)

    # the provider grants `use` to B through the page
    sign_in(page, provider_name, next_path="/provide")
    expect(page.get_by_label("Resource to manage")).to_have_value(name)
    page.get_by_label("User name").fill(b_name)
    page.get_by_label("Right", exact=True).select_option("use")
    page.get_by_role("button", name="Grant").click()
    row = page.locator("#grants tbody tr", has_text=b_name)
    expect(row).to_contain_text("use")
    expect(page.get_by_role("button", name=f"Revoke use from {b_name}")).to_be_visible()
    screenshot(page, "provide")
    assert_fits_phone(page)

    # C sees the resource page, has no `use`, asks for `modify`
    sign_in(page, c_name, next_path=f"/resources/{name}")
    expect(page.get_by_role("heading", name=f"Pets {name}")).to_be_visible()
    expect(page.locator("#error")).to_be_hidden()
    expect(page.get_by_role("link", name="Upload a new version")).to_have_count(0)
    expect(page.locator('[data-version="1"]')).to_contain_text(provider_name)
    page.get_by_label("Right to ask for").select_option("modify")
    page.get_by_label("Message to the owner").fill("I fine-tuned it on more pets")
    page.get_by_role("button", name="Ask for access").click()
    expect(page.locator("#ask-sent")).to_contain_text("modify right was sent")
    screenshot(page, "ask-for-access")

    # the provider sees the badge, approves on /provide
    sign_in(page, provider_name, next_path="/explore")
    expect(page.locator("#pending-badge")).to_have_text("1")
    page.goto("/provide")
    requests = page.locator("#requests tbody tr")
    expect(requests).to_have_count(1)
    expect(requests).to_contain_text("I fine-tuned it on more pets")
    page.get_by_role("button", name=f"Approve modify for {c_name}").click()
    expect(page.locator("#pending")).to_contain_text("No access requests are waiting")
    expect(page.locator("#pending-badge")).to_be_hidden()
    expect(page.locator("#grants tbody tr", has_text=c_name)).to_contain_text("modify")

    # C publishes version 2 through the form (architecture-only)
    sign_in(page, c_name, next_path=f"/resources/{name}")
    page.get_by_role("link", name="Upload a new version").click()
    page.wait_for_url(re.compile(r"/provide\?resource="))
    expect(page.get_by_label("Resource to manage")).to_have_value(name)
    expect(page.get_by_label("Checkpoint")).to_have_value("")
    page.get_by_label("Architecture").select_option("resnet34")
    page.get_by_label("Classes").fill("cat\ndog\nrabbit")
    page.get_by_label("Input size").fill("96")
    expect(page.get_by_label("Derives from")).to_have_value("")  # no parent unless one is chosen (issue 17)
    page.get_by_label("Derives from").select_option("1")
    page.get_by_role("button", name="Publish version").click()
    expect(page.locator("#published")).to_contain_text(f"Published version 2 of {name}")
    expect(page.locator("#rights")).to_have_count(0)  # a modifier does not manage rights

    page.goto(f"/resources/{name}")
    second = page.locator('[data-version="2"]')
    expect(second).to_contain_text(f"Published by {c_name}")
    expect(second).to_contain_text(f"Derives from {name} v1")  # an upload, not a training
    expect(second).to_contain_text('"resnet34"')
    expect(page.locator('[data-version="1"]')).to_contain_text(f"Parent of {name} v2")
    assert_fits_phone(page)


def test_signed_out_explore_shows_public_resources_only(page: Page, ui_stack: RunningStack) -> None:
    _, provider_name, public = classifier(ui_stack, visibility="public")
    _, _, private = classifier(ui_stack, visibility="private", with_version=False)
    long_title = new_account(ui_stack)[0]  # a title with no space to break at must not widen the page
    long_title.create_resource(
        name=f"long-{uuid.uuid4().hex[:8]}", kind="classifier.resnet", title="W" * 200, visibility="public"
    )
    page.goto("/explore")
    card = page.locator(f'[data-resource="{public}"]')
    expect(card).to_contain_text("He et al. 2016")
    expect(card).to_contain_text("v1")
    expect(card).to_contain_text("accuracy 90.0 %")  # shown as a percentage, rounded (issue 17)
    link = card.get_by_role("link", name=f"Pets {public}")
    expect(link).to_have_attribute("href", f"/resources/{provider_name}/{public}")  # names live under their owner
    expect(page.locator(f'[data-resource="{private}"]')).to_have_count(0)
    expect(page.get_by_text("Showing public models")).to_be_visible()
    assert_fits_phone(page)

    page.goto(f"/resources/{private}")  # a private one is not found; the visitor is told to sign in
    expect(page.get_by_text(f"No public model is named “{private}”")).to_be_visible()
    expect(page.get_by_role("link", name="sign in", exact=True)).to_have_attribute("href", re.compile("next="))


def test_api_error_is_readable_on_the_page(page: Page, ui_stack: RunningStack) -> None:
    _, user, taken = classifier(ui_stack, with_version=False)
    sign_in(page, user, next_path="/provide")  # the same name twice for one owner: a readable 409
    page.get_by_label("Name", exact=True).fill(taken)
    page.get_by_label("Title", exact=True).fill("Mine")
    page.get_by_role("button", name="Create resource").click()
    error = page.locator("#error")
    expect(error).to_be_visible()
    expect(error).to_contain_text(taken)
    assert not error.inner_text().lstrip().startswith("{")
