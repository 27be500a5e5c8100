"""FastAPI dependencies, declared once as `Annotated` aliases."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from api.dispatch import Dispatcher
from commons.db import session_scope
from commons.errors import Unauthorized
from commons.settings import Settings
from commons.store import ObjectStore
from registry.api_tokens import is_api_token, user_for_api_token
from registry.models import User
from registry.users import user_from_token

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)

# Dependencies that only read app state are `async def`: FastAPI runs a plain `def` dependency on its thread
# pool, one hop per dependency per request, which under load costs more than the work. Those that touch the
# database stay `def` (they block).


async def get_app_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


SettingsDep = Annotated[Settings, Depends(get_app_settings)]


def get_session(settings: SettingsDep) -> Iterator[Session]:
    """One session per request, committed when the endpoint returns (before the response is sent)."""
    with session_scope(settings.resolved_database_url) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


async def get_store(request: Request) -> ObjectStore:
    store: ObjectStore = request.app.state.store
    return store


StoreDep = Annotated[ObjectStore, Depends(get_store)]


async def get_dispatcher(request: Request) -> Dispatcher:
    dispatcher: Dispatcher = request.app.state.dispatcher
    return dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(get_dispatcher)]


def get_optional_user(
    session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2)]
) -> User | None:
    """The caller, or None without a token.

    The session's connection goes back to the pool before the endpoint runs: FastAPI runs this dependency
    and the endpoint in separate turns of its thread pool, and a request that held a connection while it
    queued for a thread could, under load, leave every thread waiting for a connection that only a queued
    request could release."""
    if token is None:
        return None
    try:
        if is_api_token(token):
            return user_for_api_token(session, token)
        return user_from_token(session, token, secret_key=settings.secret_key)
    finally:
        session.commit()  # ends the read transaction and releases the connection; the user stays loaded


OptionalUser = Annotated[User | None, Depends(get_optional_user)]


async def get_current_user(user: OptionalUser) -> User:
    if user is None:
        raise Unauthorized("sign in first: POST /api/v1/auth/token, then send 'Authorization: Bearer <token>'")
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]


class Page:
    """`limit` and `page` query parameters (page counts from 1)."""

    def __init__(self, limit: int = Query(50, ge=1, le=500), page: int = Query(1, ge=1, le=1_000_000)) -> None:
        self.limit = limit
        self.offset = (page - 1) * limit


PageDep = Annotated[Page, Depends(Page)]


async def get_client_address(request: Request) -> str | None:
    """The peer address, for the audit trail (uvicorn sets it from X-Forwarded-For only for trusted proxies)."""
    return request.client.host if request.client else None


ClientAddress = Annotated[str | None, Depends(get_client_address)]
