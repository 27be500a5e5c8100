"""Labelling at speed on the dataset page, in Chromium: number keys label the focused photo and move on, with
the counts following live; many photos selected and labelled at once; a batch upload with a bad file in it keeps
the good photos and names the bad one with its reason.

Photos no one here made: crops of skimage.data's astronaut, coffee, cat and rocket pictures.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from launcher.client import CommonsClient
from tests.conftest import RunningStack
from tests.registry.test_datasets import photo
from tests.ui.conftest import new_account, screenshot, sign_in

CLASSES = ["astronaut", "coffee", "cat"]
FOCUSED = "() => document.activeElement.getAttribute('aria-label') || document.activeElement.textContent"


def dataset_with_photos(client: CommonsClient, count: int) -> dict:
    dataset = client.http.post("/datasets", json={"name": "Pictures", "classes": CLASSES}).json()
    files = [("files", (f"p{index:02d}.png", photo(index), "image/png")) for index in range(count)]
    added = client.http.post(f"/datasets/{dataset['ref']}/items", files=files)
    assert added.status_code == 201 and len(added.json()) == count, added.text
    return dict(dataset)


def server_labels(client: CommonsClient, ref: str) -> dict[str, str | None]:
    items = client.http.get(f"/datasets/{ref}/items", params={"limit": 100}).json()
    return {item["original_name"]: item["class"] for item in items}


def chip_count(page: Page, name: str) -> str:
    return page.locator(f"#label-chips button[data-class='{name}'] .chip-count").inner_text().strip()


def test_twenty_photos_labelled_with_number_keys_alone(page: Page, ui_stack: RunningStack) -> None:
    user, username = new_account(ui_stack)
    dataset = dataset_with_photos(user, 20)
    sign_in(page, username, next_path=f"/datasets/{dataset['ref']}")
    expect(page.locator("#items figure")).to_have_count(20)
    expect(page.locator("#label-chips button[data-class='coffee'] kbd")).to_have_text("2")  # the key on its chip
    expect(page.locator("#label-keys")).to_contain_text("1–9 label the focused photo")
    page.get_by_label("Show").select_option("false")  # the Unlabelled view
    expect(page.get_by_label("Show").locator("option:checked")).to_have_text("Unlabelled (20)")
    expect(page.locator("#items")).not_to_have_attribute("aria-busy", "true")  # the view is loaded

    # From the top of the page: Tab to "Skip to content", Tab to "Skip to the photos", Enter: the first photo.
    page.locator("body").focus()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    assert page.evaluate(FOCUSED) == "Skip to the photos"
    page.keyboard.press("Enter")
    assert page.evaluate(FOCUSED) == "p00.png: unlabelled"

    wanted: dict[str, str] = {}
    for index in range(20):
        name = f"p{index:02d}.png"
        assert page.evaluate(FOCUSED) == f"{name}: unlabelled", f"photo {index} should have the focus"
        key = index % 3 + 1
        wanted[name] = CLASSES[key - 1]
        page.keyboard.press(str(key))
        expect(page.locator("#labelled-count")).to_have_text(str(index + 1))  # live, no Refresh
        expect(page.locator("#items figure")).to_have_count(19 - index)  # it left the Unlabelled view
    expect(page.locator("#no-items")).to_be_visible()
    expect(page.locator("#label-status")).to_have_text("All labels saved.")
    expect(page.get_by_label("Show").locator("option:checked")).to_have_text("Unlabelled (0)")
    assert [chip_count(page, name) for name in CLASSES] == ["7", "7", "6"]
    expect(page.locator("#class-list [data-count='cat']")).to_have_text(" 6 photos")
    assert server_labels(user, dataset["ref"]) == wanted
    screenshot(page, "labelling-keys")

    # All photos: arrows move, 0 unlabels and the focus moves on, the counts follow.
    page.get_by_label("Show").select_option("")
    expect(page.locator("#items")).not_to_have_attribute("aria-busy", "true")
    expect(page.locator("#items figure")).to_have_count(20)
    page.locator("#skip-to-photos").focus()
    page.keyboard.press("Enter")
    page.keyboard.press("ArrowRight")
    assert page.evaluate(FOCUSED) == "p01.png: coffee"
    page.keyboard.press("0")
    expect(page.locator("#labelled-count")).to_have_text("19")
    assert page.evaluate(FOCUSED) == "p02.png: cat"
    page.keyboard.press("Backspace")
    expect(page.locator("#labelled-count")).to_have_text("18")
    expect(page.locator("#label-status")).to_have_text("All labels saved.")
    assert [chip_count(page, name) for name in CLASSES] == ["7", "6", "5"]
    labels = server_labels(user, dataset["ref"])
    assert (labels["p01.png"], labels["p02.png"], labels["p03.png"]) == (None, None, "astronaut")


def test_five_photos_selected_and_labelled_at_once(page: Page, ui_stack: RunningStack) -> None:
    user, username = new_account(ui_stack)
    dataset = dataset_with_photos(user, 8)
    page.set_viewport_size({"width": 375, "height": 800})
    sign_in(page, username, next_path=f"/datasets/{dataset['ref']}")
    figures = page.locator("#items figure")
    expect(figures).to_have_count(8)
    expect(page.locator("#label-chips button[data-class='cat']")).to_be_disabled()  # nothing selected yet
    figures.nth(1).click()
    figures.nth(5).click(modifiers=["Shift"])
    figures.nth(6).click()
    figures.nth(6).click()  # a second click unselects
    expect(page.locator("#selected-count")).to_have_text("5 selected")
    expect(page.locator("#items figure[aria-selected='true']")).to_have_count(5)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375, "the page scrolls sideways at 375 px"
    page.locator("#label-chips button[data-class='cat']").click()
    expect(page.locator("#labelled-count")).to_have_text("5")
    expect(page.locator("#label-status")).to_have_text("All labels saved.")
    expect(page.locator("#selected-count")).to_have_text("")
    assert chip_count(page, "cat") == "5"
    labels = server_labels(user, dataset["ref"])
    assert sorted(name for name, label in labels.items() if label == "cat") == [f"p0{i}.png" for i in range(1, 6)]
    assert sum(label is None for label in labels.values()) == 3

    page.get_by_role("button", name="Select all shown").click()
    expect(page.locator("#selected-count")).to_have_text("8 selected")
    page.keyboard.press("2")  # the button gives the focus back to the photos: the key labels the selection
    expect(page.locator("#labelled-count")).to_have_text("8")
    expect(page.locator("#label-status")).to_have_text("All labels saved.")
    assert set(server_labels(user, dataset["ref"]).values()) == {"coffee"}
    screenshot(page, "labelling-many")


def test_a_bad_file_in_a_batch_is_named_and_the_rest_kept(page: Page, ui_stack: RunningStack, tmp_path: Path) -> None:
    user, username = new_account(ui_stack)
    dataset = user.http.post("/datasets", json={"name": "Uploads", "classes": CLASSES}).json()
    paths = []
    for name, data in [("good-1.png", photo(30)), ("notes.txt", b"not a photo at all\n"), ("good-2.png", photo(31))]:
        path = tmp_path / name
        path.write_bytes(data)
        paths.append(str(path))
    sign_in(page, username, next_path=f"/datasets/{dataset['ref']}")
    page.locator("#photos").set_input_files(paths)
    page.get_by_label("Label them as").select_option("cat")
    page.get_by_role("button", name="Upload photos").click()
    expect(page.locator("#upload-status")).to_have_text("Added 2 photos. Skipped 1 file that could not be added:")
    reason = page.locator("#upload-rejected li[data-file='notes.txt']")
    expect(reason).to_contain_text("notes.txt is not a PNG, JPEG, TIFF, BMP or WEBP image")
    expect(page.locator("#item-count")).to_have_text("2")
    expect(page.locator("#labelled-count")).to_have_text("2")
    expect(page.locator("#items figure")).to_have_count(2)
    assert server_labels(user, dataset["ref"]) == {"good-1.png": "cat", "good-2.png": "cat"}
    screenshot(page, "labelling-rejected-upload")
