"""Sign-up, tokens (OAuth2 password flow) and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, SessionDep, SettingsDep
from api.security import limit_sign_in, limit_sign_up, limit_token_creation
from commons.errors import Forbidden
from registry.api_tokens import create_token, list_tokens, revoke_token
from registry.clock import as_utc
from registry.models import ApiToken
from registry.schemas import ApiTokenCreate, ApiTokenCreated, ApiTokenPublic, TokenPublic, UserCreate, UserPublic
from registry.users import authenticate, create_user, issue_token

router = APIRouter(tags=["users"])


@router.post(
    "/users",
    status_code=status.HTTP_201_CREATED,
    response_model=UserPublic,
    dependencies=[Depends(limit_sign_up)],
    responses={429: {"description": "Too many sign-ups from this address; see Retry-After."}},
)
def sign_up(spec: UserCreate, session: SessionDep, settings: SettingsDep) -> UserPublic:
    if not settings.open_signup:
        raise Forbidden("sign-up is closed on this commons; ask an administrator for an account")
    user = create_user(session, username=spec.username, password=spec.password)
    return UserPublic(id=user.id, username=user.username, is_admin=user.is_admin)


@router.post(
    "/auth/token",
    response_model=TokenPublic,
    dependencies=[Depends(limit_sign_in)],
    responses={429: {"description": "Too many sign-in attempts from this address; see Retry-After."}},
)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenPublic:
    user = authenticate(session, username=form.username, password=form.password)
    access = issue_token(user, secret_key=settings.secret_key, expire_minutes=settings.token_expire_minutes)
    return TokenPublic(access_token=access, expires_in=settings.token_expire_minutes * 60)


@router.get("/users/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic(id=user.id, username=user.username, is_admin=user.is_admin)


def _token_public(row: ApiToken) -> ApiTokenPublic:
    return ApiTokenPublic(
        id=row.id,
        name=row.name,
        prefix=row.prefix,
        created_at=as_utc(row.created_at) or row.created_at,
        expires_at=as_utc(row.expires_at),
        last_used_at=as_utc(row.last_used_at),
        revoked_at=as_utc(row.revoked_at),
    )


@router.post(
    "/users/me/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiTokenCreated,
    dependencies=[Depends(limit_token_creation)],
    responses={429: {"description": "Too many tokens created; see Retry-After."}},
)
def create_api_token(spec: ApiTokenCreate, user: CurrentUser, session: SessionDep) -> ApiTokenCreated:
    """A named token for scripts; the answer is the only place the token itself appears."""
    row, plain = create_token(session, user=user, name=spec.name, expires_in_days=spec.expires_in_days)
    return ApiTokenCreated(**_token_public(row).model_dump(), token=plain)


@router.get("/users/me/tokens", response_model=list[ApiTokenPublic])
def list_api_tokens(user: CurrentUser, session: SessionDep) -> list[ApiTokenPublic]:
    return [_token_public(row) for row in list_tokens(session, user=user)]


@router.delete("/users/me/tokens/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_token(token_id: str, user: CurrentUser, session: SessionDep) -> None:
    revoke_token(session, user=user, token_id=token_id)
