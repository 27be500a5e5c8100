"""The API tokens page: make a token, see it once, use it from a script, revoke it — in Chromium."""

from __future__ import annotations

import httpx
from playwright.sync_api import Page, expect

from tests.conftest import RunningStack
from tests.ui.conftest import new_account, screenshot, sign_in


def test_make_use_and_revoke_a_token(page: Page, ui_stack: RunningStack) -> None:
    _, username = new_account(ui_stack)
    sign_in(page, username, next_path="/tokens")
    page.get_by_label("Token name").fill("field laptop")
    page.get_by_label("Expires").select_option("30")
    page.get_by_role("button", name="Create token").click()
    expect(page.locator("#error")).to_be_hidden()
    token = page.locator("#new-token").inner_text().strip()
    assert token.startswith("mc_")
    expect(page.locator("tr[data-token='field laptop']")).to_contain_text("active")

    me = httpx.get(f"{ui_stack.settings.api_url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["username"] == username
    page.reload()
    expect(page.locator("#new-token")).to_have_count(0)  # shown once only
    expect(page.locator("tr[data-token='field laptop']")).not_to_contain_text(token)
    screenshot(page, "tokens")

    page.get_by_role("button", name="Revoke field laptop").click()
    expect(page.locator("tr[data-token='field laptop']")).to_contain_text("revoked")
    after = httpx.get(f"{ui_stack.settings.api_url}/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
    assert after.status_code == 401
