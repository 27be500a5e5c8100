"""Model cards: GET/PUT /resources/{ref}/versions/{n}/card — rendered and sanitised, per version, written by the
owner and `modify` holders only, bounded in size."""

from __future__ import annotations

import uuid
from html.parser import HTMLParser

import httpx
import pytest

from launcher.client import CommonsClient
from registry.cards import MAX_CARD_BYTES, render_card
from tests.conftest import RunningStack

ARCH_ONLY = {"arch": "resnet18", "classes": ["cat", "dog"], "input_size": 64}


def resource_with_versions(owner: CommonsClient, *, visibility: str, versions: int = 1) -> str:
    name = f"card-{uuid.uuid4().hex[:8]}"
    owner.create_resource(
        name=name,
        kind="classifier.resnet",
        title="Card test",
        visibility=visibility,
        description="Tells cats from dogs.",
        citation="He et al. 2016",
        license="CC-BY-4.0",
    )
    for _ in range(versions):
        owner.upload_version(name, files=[], config=ARCH_ONLY)
    return f"{owner.username}/{name}"


def card_url(ref: str, version: int | str = 1) -> str:
    return f"/resources/{ref}/versions/{version}/card"


def put(client: CommonsClient, ref: str, markdown: str, version: int | str = 1) -> httpx.Response:
    return client.http.put(card_url(ref, version), json={"markdown": markdown})


XSS = {
    "script": "<script>alert(1)</script>",
    "onerror": '<img src=x onerror="alert(1)">',
    "javascript link": "[click](javascript:alert(1))",
    "javascript link, mixed case": "[click](JaVaScRiPt:alert(1))",
    "raw anchor": '<a href="javascript:alert(1)">click</a>',
    "data link": "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "raw iframe": '<iframe src="https://evil.example"></iframe>',
    "style": "<style>body{display:none}</style>",
    "image with handler": '![x" onerror="alert(1)](https://evil.example/x.png)',
}


class Elements(HTMLParser):
    """The elements and attributes a browser would build from the HTML (text that merely looks like tags is not)."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.found: list[tuple[str, dict[str, str | None]]] = []
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, dict(attrs)))


@pytest.mark.parametrize("attack", XSS.values(), ids=list(XSS))
def test_attacks_come_out_inert(attack: str) -> None:
    html = render_card(f"# Card\n\n{attack}\n\nafter")
    assert "<h1>Card</h1>" in html and "after" in html  # the rest of the card still renders
    elements = Elements(html).found
    assert {tag for tag, _ in elements} <= {"h1", "p", "a"}, html  # no script, img, iframe or style element
    for tag, attributes in elements:
        assert set(attributes) <= {"href", "rel", "title"}, html  # no event handler, no style
        if tag == "a":
            assert str(attributes["href"]).startswith(("https://", "http://", "mailto:", "/")), html
            assert attributes["rel"] == "noopener nofollow ugc"


def test_markdown_renders_headings_lists_links_tables() -> None:
    html = render_card("## Use\n\n- one\n- two\n\n[docs](https://example.org/d)\n\n| a | b |\n|---|---|\n| 1 | 2 |")
    assert "<h2>Use</h2>" in html
    assert "<li>one</li>" in html
    assert '<a href="https://example.org/d" rel="noopener nofollow ugc">docs</a>' in html
    assert "<td>1</td>" in html
    picture = render_card("![a chart](https://example.org/c.png)")
    assert "<img" not in picture
    assert '<a href="https://example.org/c.png" rel="noopener nofollow ugc">a chart (image)</a>' in picture


def test_owner_writes_reader_reads_per_version(stack: RunningStack) -> None:
    owner, reader = stack.new_user(), stack.new_user()
    ref = resource_with_versions(owner, visibility="public", versions=2)

    empty = reader.http.get(card_url(ref))
    assert empty.status_code == 200, empty.text
    body = empty.json()
    assert (body["markdown"], body["html"], body["updated_by"]) == ("", "", None)
    for section in ("Intended use", "Limitations", "Training data", "Citation", "Licence"):
        assert f"## {section}" in body["template"]
    assert "Tells cats from dogs." in body["template"]
    assert "He et al. 2016" in body["template"] and "CC-BY-4.0" in body["template"]

    written = put(owner, ref, "# Pets\n\nFor **pets**. <script>alert(1)</script>")
    assert written.status_code == 200, written.text
    assert written.json()["updated_by"] == owner.username
    latest = httpx.get(f"{stack.settings.api_url}/api/v1{card_url(ref, 'latest')}")  # anonymous, public resource
    assert latest.status_code == 200 and latest.json()["markdown"] == ""  # `latest` is version 2: its own card
    first = httpx.get(f"{stack.settings.api_url}/api/v1{card_url(ref, 1)}").json()
    assert first["html"].startswith("<h1>Pets</h1>")
    assert "<strong>pets</strong>" in first["html"]
    assert "<script>" not in first["html"] and "&lt;script&gt;" in first["html"]
    assert first["template"] == ""
    assert reader.http.get(card_url(ref, 2)).json()["markdown"] == ""  # kept per version

    cleared = put(owner, ref, "")
    assert cleared.status_code == 200 and cleared.json()["html"] == ""
    assert cleared.json()["template"]


def test_who_may_write_and_read(stack: RunningStack) -> None:
    owner, modifier, user, stranger = stack.new_user(), stack.new_user(), stack.new_user(), stack.new_user()
    ref = resource_with_versions(owner, visibility="private")
    name = ref.split("/")[1]
    owner.grant(name, modifier.username, "modify")
    owner.grant(name, user.username, "use")

    by_modifier = put(modifier, ref, "written by a modifier")
    assert by_modifier.status_code == 200, by_modifier.text
    assert by_modifier.json()["updated_by"] == modifier.username

    preview = modifier.http.put(card_url(ref), params={"preview": "true"}, json={"markdown": "# Draft"})
    assert preview.status_code == 200 and preview.json()["html"] == "<h1>Draft</h1>\n"
    assert user.http.put(card_url(ref), params={"preview": "true"}, json={"markdown": "x"}).status_code == 403

    refused = put(user, ref, "written by a user")
    assert refused.status_code == 403
    assert "modify" in refused.json()["detail"] and "access-requests" in refused.json()["detail"]
    assert user.http.get(card_url(ref)).json()["markdown"] == "written by a modifier"

    assert stranger.http.get(card_url(ref)).status_code == 404  # a private resource is not told about
    assert put(stranger, ref, "mine now").status_code == 404
    anonymous = httpx.put(f"{stack.settings.api_url}/api/v1{card_url(ref)}", json={"markdown": "x"})
    assert anonymous.status_code == 401
    assert owner.http.get(card_url(ref)).json()["markdown"] == "written by a modifier"


def test_bad_input_is_a_clear_4xx(stack: RunningStack) -> None:
    owner = stack.new_user()
    ref = resource_with_versions(owner, visibility="private")

    too_long = put(owner, ref, "é" * (MAX_CARD_BYTES // 2 + 1))  # under the limit in characters, over in bytes
    assert too_long.status_code == 413
    assert "64 KiB" in too_long.json()["detail"]
    assert put(owner, ref, "x" * MAX_CARD_BYTES).status_code == 200  # exactly the limit is fine

    missing = owner.http.put(card_url(ref), json={})
    assert missing.status_code == 422 and "markdown" in missing.json()["detail"]
    wrong_type = owner.http.put(card_url(ref), json={"markdown": 5})
    assert wrong_type.status_code == 422 and "markdown" in wrong_type.json()["detail"]
    no_version = put(owner, ref, "x", version=9)
    assert no_version.status_code == 404
    assert "9" in no_version.json()["detail"]
    bad_version = owner.http.get(card_url(ref, "first"))
    assert bad_version.status_code == 422
