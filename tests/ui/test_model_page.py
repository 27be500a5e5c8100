"""The model page in the browser: a provider writes a card (Markdown, with a script that must not run); a visitor
with `use` reads it, tries the model on a photo, finds the API snippets, the files and the lineage graph."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import numpy as np
from playwright.sync_api import Page, expect
from skimage import data as skdata

from tests.api.conftest import png_bytes
from tests.conftest import RunningStack
from tests.ui.conftest import new_account, screenshot, sign_in
from tests.ui.test_accessibility import UNNAMED_CONTROLS

CONFIG = {"arch": "resnet18", "classes": ["brick", "grass", "gravel"], "input_size": 32, "init_seed": 7}
CARD = """# Texture classifier

Tells **brick**, grass and gravel apart.

- trained on nothing yet
- small photos only

See [the paper](https://example.org/paper).

<script>window.pwned = 1</script>
<img src="x" onerror="window.pwned = 2">
[click me](javascript:window.pwned=3)
"""


def fits_phone(page: Page) -> bool:
    page.set_viewport_size({"width": 375, "height": 800})
    fits = page.evaluate("document.documentElement.scrollWidth") <= 375
    page.set_viewport_size({"width": 1280, "height": 900})
    return bool(fits)


def test_provider_writes_a_card_and_a_visitor_tries_the_model(
    page: Page, ui_stack: RunningStack, tmp_path: Path
) -> None:
    provider, provider_name = new_account(ui_stack)
    _, visitor_name = new_account(ui_stack)
    name = f"textures-{uuid.uuid4().hex[:8]}"
    provider.create_resource(
        name=name, kind="classifier.resnet", title="Textures", visibility="public", citation="He et al. 2016"
    )
    notes = tmp_path / "notes.txt"
    notes.write_text("what this model is\n")
    provider.upload_version(name, files=[notes], config=CONFIG)
    provider.grant(name, visitor_name, "use")
    ref = f"{provider_name}/{name}"

    # The provider writes the card: the editor starts from the template, previews, saves.
    sign_in(page, provider_name, next_path=f"/resources/{ref}")
    expect(page.locator("#no-card")).to_contain_text("Version 1 has no card yet")
    page.get_by_role("button", name="Write the card").click()
    markdown = page.get_by_label("Card (Markdown)")
    expect(markdown).to_have_value(re.compile(r"## Intended use[\s\S]*He et al\. 2016"))
    markdown.fill(CARD)
    page.get_by_role("button", name="Preview").click()
    expect(page.locator("#card-preview h1")).to_have_text("Texture classifier")
    page.get_by_role("button", name="Save card").click()
    card = page.locator("#model-card")
    expect(card.locator("h1")).to_have_text("Texture classifier")
    expect(page.locator("#card-written")).to_contain_text(f"Written by {provider_name}")

    # A visitor with `use` reads it: rendered, the link marked as user content, nothing of the script ran.
    sign_in(page, visitor_name, next_path=f"/resources/{ref}")
    expect(card.locator("h1")).to_have_text("Texture classifier")
    expect(card.locator("li")).to_have_count(2)
    expect(card.get_by_role("link", name="the paper")).to_have_attribute("rel", "noopener nofollow ugc")
    expect(card).to_contain_text("<script>window.pwned = 1</script>")  # shown as text
    expect(card.locator("script, img")).to_have_count(0)
    expect(card.get_by_role("link", name="click me")).to_have_count(0)
    assert page.evaluate("window.pwned") is None
    expect(page.get_by_role("button", name="Edit card")).to_have_count(0)
    # Ask for access offers only what the visitor lacks: modify, not use.
    expect(page.locator("#ask-permission option")).to_have_count(1)
    expect(page.locator("#ask-permission option")).to_have_attribute("value", "modify")
    expect(page.locator("#next-steps").get_by_role("link", name="Evaluate")).to_have_attribute(
        "href", re.compile("/evaluate\\?resource=")
    )

    # Files: a download link that fetches the file.
    page.get_by_role("tab", name="Files").click()
    with page.expect_download() as downloaded:
        page.get_by_role("link", name="Download notes.txt").click()
    assert Path(downloaded.value.path()).read_text() == "what this model is\n"

    # API: curl and Python snippets naming this model at this server.
    page.get_by_role("tab", name="API").click()
    expect(page.locator("#api-curl")).to_contain_text(f'"resource":"{ref}"')
    expect(page.locator("#api-curl")).to_contain_text(f"{ui_stack.settings.api_url.rstrip('/')}/api/v1/tasks")
    expect(page.locator("#api-python")).to_contain_text(f'"resource": "{ref}"')

    # Lineage: a graph whose node links to the version.
    page.get_by_role("tab", name="Lineage").click()
    expect(page.locator('#lineage-graph [data-node="v1"]')).to_have_attribute("href", "#version-1")

    # Try it: a photo in, the top classes out.
    page.get_by_role("tab", name="Try it").click()
    photo = tmp_path / "brick.png"
    photo.write_bytes(png_bytes(np.stack([skdata.brick()[:48, :48]] * 3, axis=-1)))
    page.get_by_label("Photo to try").set_input_files(photo)
    page.get_by_role("button", name="Run on this photo").click()
    top = page.locator("#top-classes li")
    expect(top).to_have_count(3, timeout=120_000)
    expect(top.first).to_have_text(re.compile(r"^(brick|grass|gravel): \d+\.\d %$"))
    expect(page.locator("#error")).to_be_hidden()
    screenshot(page, "model-page-try-it")
    assert fits_phone(page), "the model page scrolls sideways at 375 px"
    page.get_by_role("tab", name="Card").click()
    assert fits_phone(page)


def test_signed_out_visitor_is_sent_to_sign_in_and_back(page: Page, ui_stack: RunningStack) -> None:
    provider, provider_name = new_account(ui_stack)
    name = f"open-{uuid.uuid4().hex[:8]}"
    provider.create_resource(name=name, kind="classifier.resnet", title="Open model", visibility="public")
    provider.upload_version(name, files=[], config=CONFIG)
    page.goto(f"/resources/{provider_name}/{name}#try")
    expect(page.get_by_role("tab", name="Try it")).to_have_attribute("aria-selected", "true")
    link = page.locator("#try-signin").get_by_role("link", name="sign in")
    expect(link).to_have_attribute("href", re.compile(r"/signin\?next=.*%23try"))
    page.get_by_role("tab", name="Files").click()
    expect(page.locator('[data-files-version="1"]')).to_contain_text("architecture-only")
    page.get_by_role("tab", name="Versions").click()
    config = page.locator('[data-version="1"] [data-kv="config"]')
    expect(config).to_contain_text("arch")
    expect(config).to_contain_text("brick, grass, gravel")
    page.get_by_role("tab", name="Files").focus()
    page.keyboard.press("ArrowRight")  # the tabs move by keyboard
    expect(page.get_by_role("tab", name="Try it")).to_be_focused()
    expect(page.locator("#panel-try")).to_be_visible()
    assert fits_phone(page)
    assert page.evaluate(UNNAMED_CONTROLS) == [], "every control on the model page has a name"
