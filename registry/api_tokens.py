"""Named API tokens for scripts: `mc_` + 43 random URL-safe characters, shown once, stored as sha256.

Unlike the short-lived sign-in tokens (JWT), each of these can be listed and revoked on its own, and may
live longer: every one expires, after at most `MAX_DAYS` (rows made before expiries were required may have none).
Only a signed-in session makes them (api/routes/users.py): a leaked token cannot mint itself successors.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from sqlmodel import Session, col, select

from commons.errors import Conflict, Forbidden, InvalidInput, NotFound, Unauthorized
from registry.clock import as_utc, utcnow
from registry.models import ApiToken, User
from registry.users import DISABLED

PREFIX = "mc_"
MAX_DAYS = 365
MAX_TOKENS_PER_USER = 100


def is_api_token(token: str) -> bool:
    return token.startswith(PREFIX)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(
    session: Session, *, user: User, name: str, expires_in_days: int, most: int = MAX_TOKENS_PER_USER
) -> tuple[ApiToken, str]:
    """Store a new token for `user`, who may hold at most `most` live ones (not revoked, not expired); returns the
    row and the token itself (the only time it is known)."""
    if not 1 <= expires_in_days <= MAX_DAYS:
        raise InvalidInput(f"expires_in_days must be 1 to {MAX_DAYS}", field="expires_in_days")
    now = utcnow()
    active = [
        row
        for row in list_tokens(session, user=user)
        if row.revoked_at is None and ((expires := as_utc(row.expires_at)) is None or expires > now)
    ]
    if len(active) >= most:
        raise Conflict(
            f"you have {len(active)} live API tokens, the most allowed (COMMONS_MAX_API_TOKENS={most}); revoke one "
            "on the API tokens page first"
        )
    plain = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(
        user_id=user.id,
        name=name,
        token_hash=_digest(plain),
        prefix=plain[: len(PREFIX) + 6],
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days),
    )
    session.add(row)
    session.flush()
    return row, plain


def list_tokens(session: Session, *, user: User) -> list[ApiToken]:
    query = select(ApiToken).where(ApiToken.user_id == user.id).order_by(col(ApiToken.created_at).desc())
    return list(session.exec(query).all())


def revoke_token(session: Session, *, user: User, token_id: str) -> ApiToken:
    row = session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise NotFound(f"no token {token_id!r} of yours; list them at GET /api/v1/users/me/tokens")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        session.add(row)
        session.flush()
    return row


def user_for_api_token(session: Session, token: str) -> User:
    """The token's user; Unauthorized for an unknown, revoked or expired token, Forbidden for a disabled account
    (and the last use is stamped)."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == _digest(token))).first()
    if row is None:
        raise Unauthorized(
            "the API token is not valid; create one on the API tokens page or POST /api/v1/users/me/tokens"
        )
    if row.revoked_at is not None:
        raise Unauthorized(f"the API token {row.name!r} was revoked; create a new one")
    expires = as_utc(row.expires_at)
    if expires is not None and expires <= utcnow():
        raise Unauthorized(f"the API token {row.name!r} expired on {expires.date().isoformat()}; create a new one")
    user = session.get(User, row.user_id)
    if user is None:
        raise Unauthorized("the token's user no longer exists")
    if user.disabled:
        raise Forbidden(DISABLED)
    row.last_used_at = utcnow()
    session.add(row)
    return user
