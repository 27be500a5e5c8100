"""Issue 17's small defects: name patterns valid under the `v` flag (no console error), an icon on every page,
pages that fit 375 px with a long digest in them, rounded figures, and empty states that lead somewhere."""

from __future__ import annotations

import json
import uuid

import httpx
from playwright.sync_api import ConsoleMessage, Page, expect

from tests.conftest import RunningStack
from tests.ui.conftest import new_account, sign_in

UNROUNDED = 0.5588539838790894
LONG_DIGEST = "sha256:" + "0123456789abcdef" * 4
# Browsers compile a pattern attribute as ^(?:pattern)$ with the v flag; these are the ones that fail to.
BAD_PATTERNS = """() => [...document.querySelectorAll('input[pattern]')].map((input) => input.pattern)
  .filter((pattern) => {
  try { new RegExp(`^(?:${pattern})$`, 'v'); return false; } catch { return true; }
})"""
ARCH_CONFIG = {"arch": "resnet18", "classes": ["a", "b"], "input_size": 32, "init_seed": 3}


def watch_console(page: Page) -> list[str]:
    """Every console error or warning the page logs from now on (the page fixture only fails on CSP and uncaught)."""
    seen: list[str] = []

    def record(message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            seen.append(f"{message.type}: {message.text} ({page.url})")

    page.on("console", record)
    return seen


def test_favicon_answers(ui_stack: RunningStack) -> None:
    with httpx.Client(base_url=ui_stack.settings.api_url) as http:
        for path in ("/favicon.ico", "/static/favicon.svg"):
            answer = http.get(path)
            assert answer.status_code == 200, path
            assert answer.headers["content-type"].startswith("image/svg+xml")
        assert 'rel="icon"' in http.get("/explore").text


def test_provide_train_explore_fit_375_px_without_console_errors(page: Page, ui_stack: RunningStack) -> None:
    user, username = new_account(ui_stack)
    resource = f"resnet18-{uuid.uuid4().hex[:8]}"
    user.create_resource(name=resource, kind="classifier.resnet", title="ResNet-18, 32 px, untrained")
    metrics = {"accuracy": UNROUNDED, "dataset": LONG_DIGEST}
    created = user.http.post(
        f"/resources/{resource}/versions",
        data={"config": json.dumps(ARCH_CONFIG), "reported_metrics": json.dumps(metrics)},
    )
    assert created.status_code == 201, created.text
    assert user.http.post("/datasets", json={"name": "Small screen", "classes": ["zero", "one"]}).status_code == 201
    problems = watch_console(page)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, username, next_path="/provide")
    for path in ("/provide", "/train", "/explore", f"/resources/{resource}"):
        page.goto(path)
        page.wait_for_load_state("networkidle")
        expect(page.locator("#error")).to_be_hidden()
        assert page.evaluate(BAD_PATTERNS) == [], f"{path}: pattern attributes the browser cannot compile"
        if path in ("/provide", "/train"):
            expect(page.locator("input[pattern]").first).to_be_visible()
        if path == "/explore":
            card = page.locator(f'article[data-resource="{resource}"]')
            expect(card).to_contain_text("accuracy 55.9 %")
            expect(card).not_to_contain_text(str(UNROUNDED))
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 375, f"{path} is {width} px wide at 375 px"
    assert problems == []


def test_empty_states_lead_somewhere(page: Page, ui_stack: RunningStack) -> None:
    """With no model listed (answered empty here: tests share the stack), Evaluate and Explore name the next step
    and link to it; Evaluate's way out is not only Train, whose own empty state it would loop back to."""
    _, username = new_account(ui_stack)
    sign_in(page, username)
    page.route("**/api/v1/resources?*", lambda route: route.fulfill(json=[]))
    page.goto("/evaluate")
    notice = page.locator("#no-models")
    expect(notice).to_contain_text("No classifier you may use yet.")
    expect(notice.get_by_role("link", name="provide one")).to_have_attribute("href", "/provide")
    expect(notice.get_by_role("link", name="Explore models")).to_have_attribute("href", "/explore")
    expect(notice.get_by_role("link", name="train it")).to_have_attribute("href", "/train")
    page.goto("/explore")
    expect(page.locator("#no-models").get_by_role("link", name="Provide one")).to_have_attribute("href", "/provide")
