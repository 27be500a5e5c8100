"""Model cards: a Markdown text per resource version (what the model is for, its limits, its training data, how
to cite it, its licence), written by the owner and `modify` holders and shown, rendered and sanitised, to anyone
who may read the resource.

Rendering: markdown-it-py's CommonMark with tables, raw HTML off (typed tags are shown as text), then nh3 with an
allow-list of tags and attributes as a second wall. Links keep http(s), mailto and relative URLs only and get
`rel="noopener nofollow ugc"`. Images are not rendered: `![alt](url)` becomes a link "alt (image)" to the picture, so
a card cannot make a reader's browser fetch from another site (the pages' CSP would refuse it anyway). Table
column alignment is dropped with every `style` attribute.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

import nh3
from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml
from markdown_it.token import Token
from markdown_it.utils import EnvType, OptionsDict
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from commons.errors import TooLarge
from registry.clock import as_utc, utcnow
from registry.models import Resource, ResourceVersion, User

MAX_CARD_BYTES: Final = 64 * 1024
LINK_REL: Final = "noopener nofollow ugc"
ALLOWED_TAGS: Final = frozenset(
    {
        "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "li", "ol", "p",
        "pre", "strong", "table", "tbody", "td", "th", "thead", "tr", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES: Final = {"a": {"href", "title"}, "ol": {"start"}}
URL_SCHEMES: Final = frozenset({"http", "https", "mailto"})


class CardUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    markdown: str = Field(
        description=f"The card's Markdown (CommonMark and tables; raw HTML is shown as text); at most "
        f"{MAX_CARD_BYTES // 1024} KiB in UTF-8 (more is refused with 413); an empty text clears the card.",
    )


class CardPublic(BaseModel):
    markdown: str = Field(description="The card's Markdown source; empty when none was written.")
    html: str = Field(description="The card rendered and sanitised: safe to insert into a page.")
    updated_by: str | None = Field(description="Who last wrote the card.")
    updated_at: datetime | None
    template: str = Field(
        default="",
        description="When the card is empty: a suggested start (intended use, limitations, training data, "
        "citation, licence) filled from the resource's description, citation and licence.",
    )


def _image_as_link(renderer: Any, tokens: Sequence[Token], idx: int, options: OptionsDict, env: EnvType) -> str:
    """`![alt](url)` as a link to the picture: a card never makes its reader's browser fetch from elsewhere."""
    token = tokens[idx]
    alt = renderer.renderInlineAsText(token.children or [], options, env)
    source = escapeHtml(str(token.attrGet("src") or ""))
    return f'<a href="{source}">{escapeHtml(alt + " (image)" if alt else "image")}</a>'


def _markdown() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).enable("table")
    parser.add_render_rule("image", _image_as_link)
    return parser


_PARSER: Final = _markdown()


def render_card(markdown: str) -> str:
    """The card's HTML: rendered without raw HTML, then cleaned to the allow-list (no scripts, no event handlers,
    no javascript: or data: URLs, no images)."""
    if not markdown.strip():
        return ""
    return nh3.clean(
        _PARSER.render(markdown),
        tags=set(ALLOWED_TAGS),
        clean_content_tags={"script", "style"},
        attributes={tag: set(names) for tag, names in ALLOWED_ATTRIBUTES.items()},
        link_rel=LINK_REL,
        url_schemes=set(URL_SCHEMES),
        strip_comments=True,
    )


def check_card_size(markdown: str) -> None:
    """TooLarge (413) when the Markdown is over the limit in UTF-8 bytes, naming the limit."""
    size = len(markdown.encode("utf-8"))
    if size > MAX_CARD_BYTES:
        raise TooLarge(
            f"the card is {size:,} bytes; a card may hold at most {MAX_CARD_BYTES // 1024} KiB "
            f"({MAX_CARD_BYTES:,} bytes) of Markdown: shorten it or link to a longer document",
        )


def card_template(resource: Resource) -> str:
    """A card to start from, with the resource's own description, citation and licence filled in."""
    unknown = "_Not written yet._"
    return "\n".join(
        [
            f"# {resource.title}",
            "",
            "## Intended use",
            "",
            resource.description.strip() or "_What is this model for, and for whom?_",
            "",
            "## Limitations",
            "",
            "_Where does it fail? Photos, classes or conditions it was not made for._",
            "",
            "## Training data",
            "",
            "_Which data it learnt from (link the dataset), how it was labelled, and how it was split._",
            "",
            "## Citation",
            "",
            resource.citation.strip() or unknown,
            "",
            "## Licence",
            "",
            resource.license.strip() or unknown,
            "",
        ]
    )


def card_view(session: Session, resource: Resource, row: ResourceVersion) -> CardPublic:
    writer = session.get(User, row.card_updated_by) if row.card_updated_by else None
    return CardPublic(
        markdown=row.card,
        html=render_card(row.card),
        updated_by=writer.username if writer else None,
        updated_at=as_utc(row.card_updated_at),
        template="" if row.card.strip() else card_template(resource),
    )


def preview_card(markdown: str) -> CardPublic:
    """The card as it would be shown, kept nowhere (the editor's preview)."""
    check_card_size(markdown)
    return CardPublic(markdown=markdown, html=render_card(markdown), updated_by=None, updated_at=None)


def write_card(session: Session, *, row: ResourceVersion, markdown: str, actor: User) -> ResourceVersion:
    """Replace the card of a version (the caller has checked `modify`); an empty text clears it."""
    check_card_size(markdown)
    row.card = markdown
    row.card_updated_by = actor.id
    row.card_updated_at = utcnow()
    session.add(row)
    session.flush()
    return row
