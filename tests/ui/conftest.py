"""Browser fixtures: Debian's headless Chromium driven by Playwright against the real embedded stack.

The set-up installs the `chromium` package when it is missing (apt-get, as the CI user may). UI journeys
run on the SQLite stack only (the registry behaviour is covered on both backends by tests/api); each
journey saves a screenshot under `test-output/`.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, ViewportSize, expect, sync_playwright

from launcher.client import CommonsClient
from launcher.demo import STARTERS, ensure_starter_models
from resources.sam.config import parse_sam_config
from resources.sam.model import TINY_CONFIG, save_random_weights
from tests.conftest import RunningStack

CHROMIUM = "/usr/bin/chromium"
LAUNCH_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
PASSWORD = "correct horse battery"
# Assertions wait as long as actions do (Playwright's own default is 5 s): on a busy 2-core CI machine a page's
# first API answer can take longer than that, and a wait that long is still a failure when nothing comes.
expect.set_options(timeout=20_000)
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 375, "height": 800}


def ensure_chromium() -> str:
    if not Path(CHROMIUM).exists():
        apt = shutil.which("apt-get")
        if apt is None:
            raise RuntimeError(f"{CHROMIUM} is missing and apt-get is not available to install Debian's chromium")
        subprocess.run([apt, "install", "-y", "-q", "chromium"], check=True, capture_output=True, timeout=600)
    return CHROMIUM


# Module scope, not session: while Playwright's sync driver is open the main thread has a running event
# loop, and tests that pytest interleaves with these (it groups items by the session `stack` parameter)
# call asyncio.run or fork DataLoader workers, which fail under it.
@pytest.fixture(scope="module")
def playwright_driver() -> Iterator[Playwright]:
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    launched = playwright_driver.chromium.launch(executable_path=ensure_chromium(), args=LAUNCH_FLAGS, headless=True)
    yield launched
    launched.close()


@pytest.fixture
def ui_stack(stack: RunningStack) -> RunningStack:
    return stack


@pytest.fixture
def page(browser: Browser, ui_stack: RunningStack) -> Iterator[Page]:
    with fresh_page(browser, ui_stack) as opened:
        yield opened


@contextmanager
def fresh_page(browser: Browser, stack: RunningStack, viewport: ViewportSize = DESKTOP) -> Iterator[Page]:
    """A page in a new browser context (another day, another person: nothing remembered), failing the test when
    the page logs an error or a warning (see `console_problem`) or throws."""
    context = browser.new_context(base_url=stack.settings.api_url, viewport=viewport)
    context.set_default_timeout(20_000)
    opened = context.new_page()
    problems: list[str] = []
    opened.on("console", lambda message: problems.append(console_problem(message)))
    opened.on("pageerror", lambda error: problems.append(f"uncaught: {error}"))
    try:
        yield opened
    finally:
        context.close()
    blocked = [text for text in problems if text]
    assert not blocked, f"the page logged errors or warnings: {blocked}"


def fits(page: Page, width: int = PHONE["width"]) -> None:
    """The page needs no sideways scrolling at `width` px."""
    shown = page.evaluate("document.documentElement.scrollWidth")
    assert shown <= width, f"the page is {shown} px wide at {width} px"


def console_problem(message: ConsoleMessage) -> str:
    """The text of a console error or warning that fails the test, or "" for one that does not.

    Every error and warning fails (a CSP refusal, an invalid `pattern`, a missing static file, a deprecation),
    except the browser's own note that an /api/v1 call answered 4xx: journeys exercise refusals on purpose,
    and the page shows those to the user as messages.
    """
    if message.type not in ("error", "warning"):
        return ""
    url = (message.location or {}).get("url", "")
    if message.text.startswith("Failed to load resource: the server responded with a status of 4") and (
        "/api/v1/" in url
    ):
        return ""
    return f"{message.type}: {message.text} ({url})"


@pytest.fixture(scope="module")
def sam_resource(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A public tiny SAM (random weights) that anyone may use, published by a provider over REST."""
    weights = tmp_path_factory.mktemp("sam") / TINY_CONFIG["checkpoint"]
    save_random_weights(parse_sam_config(TINY_CONFIG), weights, seed=0)
    provider, _ = new_account(stack)
    name = f"sam-{uuid.uuid4().hex[:8]}"
    provider.create_resource(name=name, kind="segmenter.sam", title="Tiny SAM for the UI", visibility="public")
    provider.upload_version(name, files=[weights], config=TINY_CONFIG)
    provider.grant(name, "*", "use")
    return name


@pytest.fixture
def demo_stack(ui_stack: RunningStack) -> RunningStack:
    """The stack with the demo's starter models, as a fresh `make run` has them (registered here unless an
    earlier test did)."""
    anonymous = ui_stack.client()
    try:
        if anonymous.http.get(f"/resources/{STARTERS[0].name}").status_code == 404:
            ensure_starter_models(ui_stack.settings.api_url, data_dir=ui_stack.settings.data_dir)
    finally:
        anonymous.close()
    return ui_stack


def sign_up(page: Page, username: str) -> None:
    """Make an account on the sign-up page, as a newcomer would; it lands signed in on Explore."""
    page.goto("/signup")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.wait_for_url("**/explore")
    expect(page.locator("#whoami")).to_have_text(f"Signed in as {username}")


def screenshot(page: Page, name: str) -> Path:
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def new_account(stack: RunningStack) -> tuple[CommonsClient, str]:
    """A user made over REST (for set-up); returns the signed-in client and the user name."""
    client = stack.client()
    name = f"user-{uuid.uuid4().hex[:10]}"
    client.sign_up(name, PASSWORD)
    client.sign_in(name, PASSWORD)
    return client, name


def sign_in(page: Page, username: str, *, next_path: str = "/explore") -> None:
    """Sign in through the sign-in page, as a person would."""
    page.goto(f"/signin?next={next_path}")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(lambda url: "/signin" not in url)  # the sign-in URL itself carries next_path
    expect(page.locator("#whoami")).to_have_text(f"Signed in as {username}")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Browser journeys run against the SQLite stack only: their PostgreSQL copies are deselected."""
    here = Path(__file__).parent
    dropped = [
        item
        for item in items
        if item.path.is_relative_to(here)
        and getattr(item, "callspec", None) is not None
        and item.callspec.params.get("stack") == "postgresql"  # type: ignore[attr-defined]
    ]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = [item for item in items if item not in dropped]
