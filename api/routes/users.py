"""Sign-up, tokens (OAuth2 password flow) and the caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status
from fastapi.security import OAuth2PasswordRequestForm

from api.deps import CurrentUser, SessionDep, SettingsDep
from commons.errors import Forbidden
from registry.schemas import TokenPublic, UserCreate, UserPublic
from registry.users import authenticate, create_user, issue_token

router = APIRouter(tags=["users"])


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=UserPublic)
def sign_up(spec: UserCreate, session: SessionDep, settings: SettingsDep) -> UserPublic:
    if not settings.open_signup:
        raise Forbidden("sign-up is closed on this commons; ask an administrator for an account")
    user = create_user(session, username=spec.username, password=spec.password)
    return UserPublic(id=user.id, username=user.username, is_admin=user.is_admin)


@router.post("/auth/token", response_model=TokenPublic)
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()], session: SessionDep, settings: SettingsDep
) -> TokenPublic:
    user = authenticate(session, username=form.username, password=form.password)
    access = issue_token(user, secret_key=settings.secret_key, expire_minutes=settings.token_expire_minutes)
    return TokenPublic(access_token=access, expires_in=settings.token_expire_minutes * 60)


@router.get("/users/me", response_model=UserPublic)
def me(user: CurrentUser) -> UserPublic:
    return UserPublic(id=user.id, username=user.username, is_admin=user.is_admin)
