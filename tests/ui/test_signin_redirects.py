"""After signing in or up, `next` leads only to a path on the commons — in Chromium.

Before: `/signin?next=//evil.example/x` (or `/\\evil.example`) sent the browser to another site after sign-in,
since both start with '/'.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest
from playwright.sync_api import Dialog, Page, expect

from tests.conftest import RunningStack
from tests.ui.conftest import PASSWORD, new_account

HOSTILE = [
    "//evil.example/x",
    "/\\evil.example",
    "/\\/evil.example",
    "/\t/evil.example",
    "https://evil.example",
    "javascript:alert(1)",
]


def submit_sign_in(page: Page, username: str, next_value: str) -> None:
    page.goto(f"/signin?next={quote(next_value, safe='')}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


@pytest.mark.parametrize("next_value", HOSTILE)
def test_sign_in_never_leaves_the_commons(page: Page, ui_stack: RunningStack, next_value: str) -> None:
    _, username = new_account(ui_stack)
    dialogs: list[str] = []

    def record(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", record)
    submit_sign_in(page, username, next_value)
    page.wait_for_url(lambda url: "/signin" not in url)
    assert page.url == f"{ui_stack.settings.api_url}/explore", page.url  # "/" leads to Explore
    expect(page.locator("#whoami")).to_have_text(f"Signed in as {username}")
    assert not dialogs, "no script ran from next"


def test_a_path_on_the_commons_is_kept(page: Page, ui_stack: RunningStack) -> None:
    _, username = new_account(ui_stack)
    submit_sign_in(page, username, "/tokens?from=signin#list")
    page.wait_for_url(lambda url: "/signin" not in url)
    assert page.url == f"{ui_stack.settings.api_url}/tokens?from=signin#list"


def test_sign_up_never_leaves_the_commons(page: Page, ui_stack: RunningStack) -> None:
    page.goto(f"/signup?next={quote('//evil.example/x', safe='')}")
    name = f"user-{uuid.uuid4().hex[:10]}"
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url(lambda url: "/signup" not in url)
    assert page.url == f"{ui_stack.settings.api_url}/explore", page.url
    expect(page.locator("#whoami")).to_have_text(f"Signed in as {name}")


def test_a_weak_password_is_refused_on_the_sign_up_page(page: Page, ui_stack: RunningStack) -> None:
    page.goto("/signup")
    name = f"user-{uuid.uuid4().hex[:10]}"
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password").fill(f"{name}{name}")
    page.get_by_role("button", name="Create account").click()
    # Said in plain words next to the password field, not in the box at the top of the page.
    expect(page.locator("#password-error")).to_contain_text("too easy to guess")
    expect(page.locator("#password-error")).not_to_contain_text(f"{name}{name}")
    expect(page.locator("#error")).to_be_hidden()
    assert "/signup" in page.url
