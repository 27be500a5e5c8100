"""Accounts and API tokens as the API shows them."""

from __future__ import annotations

from registry.clock import as_utc
from registry.models import ApiToken, User
from registry.schemas import ApiTokenPublic, UserPublic
from registry.views.base import view


def user_view(user: User) -> UserPublic:
    return view(UserPublic, user)


def api_token_view(row: ApiToken) -> ApiTokenPublic:
    """The token's name, prefix and times (in UTC); never the token itself."""
    return view(
        ApiTokenPublic,
        row,
        created_at=as_utc(row.created_at) or row.created_at,
        expires_at=as_utc(row.expires_at),
        last_used_at=as_utc(row.last_used_at),
        revoked_at=as_utc(row.revoked_at),
    )
