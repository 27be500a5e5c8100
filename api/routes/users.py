"""Sign-up, tokens (OAuth2 password flow), sign-out, password changes, disabled accounts and the caller.

Only a sign-in session (the JWT a password gave) makes API tokens, changes the password or signs out: an API
token that leaked cannot make itself successors or lock its owner out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import AdminUser, ClientAddress, CurrentUser, SessionDep, SessionUser, SettingsDep
from api.security import limit_password_change, limit_sign_in, limit_sign_up, limit_token_creation
from commons.errors import Forbidden
from registry.api_tokens import create_token, list_tokens, revoke_token
from registry.audit import record
from registry.schemas import (
    ApiTokenCreate,
    ApiTokenCreated,
    ApiTokenPublic,
    PasswordChange,
    PasswordChanged,
    TokenPublic,
    UserCreate,
    UserPublic,
    UserUpdate,
)
from registry.users import authenticate, change_password, create_user, end_sessions, issue_token, set_disabled
from registry.views.users import api_token_view, user_view

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    dependencies=[Depends(limit_sign_up)],
    responses={
        409: {"description": "The name is taken (names are unique without regard to case)."},
        422: {"description": "A bad name, or a password too short or too easy to guess (the detail says why)."},
        429: {"description": "Too many sign-ups from this address; see Retry-After."},
    },
)
def sign_up(spec: UserCreate, session: SessionDep, settings: SettingsDep) -> UserPublic:
    if not settings.open_signup:
        raise Forbidden("sign-up is closed on this commons; ask an administrator for an account")
    user = create_user(
        session, username=spec.username, password=spec.password, min_password_score=settings.min_password_score
    )
    return user_view(user)


@router.post(
    "/auth/token",
    response_model=TokenPublic,
    dependencies=[Depends(limit_sign_in)],
    responses={
        403: {"description": "The account is disabled."},
        429: {"description": "Too many sign-in attempts from this address; see Retry-After."},
    },
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenPublic:
    """Sign in (the name is matched without regard to case); the token lasts until it expires or you sign out."""
    user = authenticate(session, username=form.username, password=form.password)
    access = issue_token(user, secret_key=settings.secret_key, expire_minutes=settings.token_expire_minutes)
    return TokenPublic(access_token=access, expires_in=settings.token_expire_minutes * 60)


@router.get("/users/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return user_view(user)


@router.post(
    "/users/me/signout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: {"description": "Sent with an API token (revoke the token instead)."}},
)
def sign_out(user: SessionUser, session: SessionDep, address: ClientAddress) -> None:
    """End every sign-in session of your account (this browser and any other); API tokens keep working."""
    end_sessions(session, user)
    record(session, actor=user, action="account.signout", target=user, address=address)


@router.post(
    "/users/me/password",
    response_model=PasswordChanged,
    dependencies=[Depends(limit_password_change)],
    responses={
        403: {"description": "Sent with an API token: only a signed-in session changes the password."},
        422: {"description": "The current password is wrong, or the new one is too weak (the detail says why)."},
        429: {"description": "Too many attempts; see Retry-After."},
    },
)
def change_own_password(
    spec: PasswordChange, user: SessionUser, session: SessionDep, settings: SettingsDep, address: ClientAddress
) -> PasswordChanged:
    """Change your password. Every sign-in session ends, this one too: the answer carries a new token for it."""
    change_password(
        session,
        user,
        current_password=spec.current_password,
        new_password=spec.new_password,
        min_score=settings.min_password_score,
    )
    record(session, actor=user, action="account.password", target=user, address=address)
    active = sum(1 for row in list_tokens(session, user=user) if row.revoked_at is None)
    tokens = f"; your {active} API token(s) still work: revoke them on the API tokens page if needed" if active else ""
    return PasswordChanged(
        access_token=issue_token(user, secret_key=settings.secret_key, expire_minutes=settings.token_expire_minutes),
        expires_in=settings.token_expire_minutes * 60,
        detail=f"password changed; every other sign-in session was signed out{tokens}",
    )


@router.patch(
    "/users/{username}",
    response_model=UserPublic,
    responses={
        403: {"description": "Not an administrator."},
        404: {"description": "No such user."},
        409: {"description": "An administrator cannot disable their own account."},
    },
)
def update_user(
    username: str, spec: UserUpdate, user: AdminUser, session: SessionDep, address: ClientAddress
) -> UserPublic:
    """Administrators: disable an account (its tokens are refused from their next request) or enable it again."""
    changed = set_disabled(session, actor=user, username=username, disabled=spec.disabled)
    if spec.disabled:
        record(session, actor=user, action="account.disable", target=changed, address=address)
    else:
        record(session, actor=user, action="account.enable", target=changed, address=address)
    return user_view(changed)


@router.post(
    "/users/me/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiTokenCreated,
    dependencies=[Depends(limit_token_creation)],
    responses={
        403: {"description": "Sent with an API token: only a signed-in session makes API tokens."},
        429: {"description": "Too many tokens created; see Retry-After."},
    },
)
def create_api_token(
    spec: ApiTokenCreate, user: SessionUser, session: SessionDep, settings: SettingsDep, address: ClientAddress
) -> ApiTokenCreated:
    """A named token for scripts, expiring after `expires_in_days` (default COMMONS_API_TOKEN_DEFAULT_DAYS, at most
    365); the answer is the only place the token itself appears."""
    days = spec.expires_in_days if spec.expires_in_days is not None else settings.api_token_default_days
    row, plain = create_token(session, user=user, name=spec.name, expires_in_days=days, most=settings.max_api_tokens)
    detail = {"name": row.name, "prefix": row.prefix, "expires_in_days": days}
    record(session, actor=user, action="token.create", target=user, detail=detail, address=address)
    return ApiTokenCreated(**api_token_view(row).model_dump(), token=plain)


@router.get("/users/me/tokens", response_model=list[ApiTokenPublic])
def list_api_tokens(user: CurrentUser, session: SessionDep) -> list[ApiTokenPublic]:
    return [api_token_view(row) for row in list_tokens(session, user=user)]


@router.delete("/users/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_token(token_id: str, user: CurrentUser, session: SessionDep, address: ClientAddress) -> None:
    row = revoke_token(session, user=user, token_id=token_id)
    record(session, actor=user, action="token.revoke", target=user, detail={"name": row.name}, address=address)
