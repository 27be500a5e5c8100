"""The inbox in the browser: an approval reaches the requester's header badge and inbox, and opening the message
reads it; a form's error shows next to its control, in plain words."""

from __future__ import annotations

import re
import uuid

from playwright.sync_api import Page, expect

from tests.conftest import RunningStack
from tests.ui.conftest import PASSWORD, new_account, screenshot, sign_in
from tests.ui.test_provider_journey import assert_fits_phone


def test_an_approval_reaches_the_requesters_inbox(page: Page, ui_stack: RunningStack) -> None:
    alice, alice_name = new_account(ui_stack)
    bob, bob_name = new_account(ui_stack)
    name = f"inbox-{uuid.uuid4().hex[:8]}"
    alice.create_resource(name=name, kind="classifier.resnet", title=f"Pets {name}", visibility="public")
    asked = bob.http.post(f"/resources/{name}/access-requests", json={"permission": "use", "message": "for a class"})
    assert asked.status_code == 201, asked.text

    # alice hears of the request, and approves it on the page the message links to
    sign_in(page, alice_name, next_path="/explore")
    expect(page.locator("#inbox-badge")).to_have_text("1")
    page.locator("#inbox-link").click()  # the header's link (public models titled "Inbox …" may be listed too)
    message = page.locator("#messages li").first
    expect(message).to_contain_text(f"{bob_name} asks for use of {alice_name}/{name}")
    message.get_by_role("link").click()
    page.wait_for_url(re.compile(r"/provide"))
    expect(page.locator("#inbox-badge")).to_be_hidden()  # opening the message read it
    page.get_by_role("button", name=f"Approve use for {bob_name}").click()
    expect(page.locator("#pending")).to_contain_text("No access requests are waiting")

    # bob's header shows one unread message; the inbox lists the approval; opening it reads it
    sign_in(page, bob_name, next_path="/explore")
    badge = page.locator("#inbox-badge")
    expect(badge).to_have_text("1")
    expect(page.get_by_role("link", name="Inbox, 1 unread")).to_be_visible()
    page.goto("/inbox")
    approved = page.locator("#messages li.unread")
    expect(approved).to_have_count(1)
    expect(approved).to_contain_text(f"{alice_name} approved your request for use of {alice_name}/{name}")
    expect(approved).to_contain_text("Approved")
    screenshot(page, "inbox")
    assert_fits_phone(page)
    approved.get_by_role("link", name=re.compile("approved your request")).click()
    page.wait_for_url(re.compile(rf"/resources/{alice_name}/{name}$"))
    expect(badge).to_be_hidden()
    page.goto("/inbox")
    expect(page.locator("#messages li.unread")).to_have_count(0)
    expect(page.get_by_role("button", name="Mark all read")).to_be_hidden()


def test_mark_all_read_and_the_empty_inbox(page: Page, ui_stack: RunningStack) -> None:
    alice, alice_name = new_account(ui_stack)
    bob, _ = new_account(ui_stack)
    sign_in(page, alice_name, next_path="/inbox")
    expect(page.locator("#messages-box")).to_contain_text("No messages yet")
    expect(page.locator("#messages-box").get_by_role("link", name="tasks")).to_have_attribute("href", "/tasks")
    for _ in range(2):
        name = f"inbox-{uuid.uuid4().hex[:8]}"
        alice.create_resource(name=name, kind="classifier.resnet", title="t", visibility="public")
        assert bob.http.post(f"/resources/{name}/access-requests", json={"permission": "use"}).status_code == 201
    page.reload()
    expect(page.locator("#messages li.unread")).to_have_count(2)
    expect(page.locator("#inbox-badge")).to_have_text("2")
    page.get_by_role("button", name="Mark all read").click()
    expect(page.locator("#messages li.unread")).to_have_count(0)
    expect(page.locator("#messages li")).to_have_count(2)
    expect(page.locator("#inbox-badge")).to_be_hidden()


def test_a_sign_up_error_shows_next_to_its_control(page: Page, ui_stack: RunningStack) -> None:
    page.goto("/signup")
    user_name = page.get_by_label("User name")
    user_name.fill("a!")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    note = page.locator("#username-error")
    expect(note).to_be_visible()
    expect(note).to_contain_text("3–64")
    expect(note).not_to_contain_text("Value error")
    expect(page.locator("#error")).to_be_hidden()  # not at the top of the page
    expect(user_name).to_have_attribute("aria-invalid", "true")
    expect(user_name).to_have_attribute("aria-describedby", re.compile(r"\busername-error\b"))
    expect(user_name).to_be_focused()
    assert page.evaluate("document.querySelector('#username').nextElementSibling.id") == "username-error"

    user_name.fill(f"user-{uuid.uuid4().hex[:10]}")  # the next submission clears it
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(lambda url: "/signup" not in url)
    expect(page.locator(".field-error")).to_have_count(0)
