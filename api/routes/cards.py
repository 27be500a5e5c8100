"""Model cards: one Markdown card per resource version, read by anyone who may read the resource and written
by its owner and `modify` holders (rendering and sanitising: `registry.cards`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.deps import CurrentUser, OptionalUser, SessionDep
from api.routes import refs  # noqa: F401 - registers the {…:ref} path convertor
from api.routes.resources import VersionRef
from registry.cards import CardPublic, CardUpdate, card_view, preview_card, write_card
from registry.rights import resource_for
from registry.versions import get_version

router = APIRouter(prefix="/resources", tags=["resources"])


@router.get("/{name:ref}/versions/{version}/card", response_model=CardPublic)
def read_card(name: str, version: VersionRef, user: OptionalUser, session: SessionDep) -> CardPublic:
    """The version's card: its Markdown, the same rendered as sanitised HTML, who wrote it and when; an empty
    card comes with a `template` to start from."""
    resource = resource_for(session, name=name, user=user)
    return card_view(session, resource, get_version(session, resource, version))


@router.put("/{name:ref}/versions/{version}/card", response_model=CardPublic)
def put_card(
    name: str,
    version: VersionRef,
    card: CardUpdate,
    user: CurrentUser,
    session: SessionDep,
    preview: Annotated[bool, Query(description="true: answer the card as it would be shown, keep nothing.")] = False,
) -> CardPublic:
    """Replace the version's card (`modify`); at most 64 KiB of Markdown (more: 413), raw HTML is shown as
    text, images as links; an empty text clears it. With `preview=true` nothing is kept: the editor's preview."""
    resource = resource_for(session, name=name, user=user, need="modify")
    row = get_version(session, resource, version)
    if preview:
        return preview_card(card.markdown)
    return card_view(session, resource, write_card(session, row=row, markdown=card.markdown, actor=user))
