"""FastAPI dependencies, declared once as `Annotated` aliases."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import OAuth2PasswordBearer
from sqlmodel import Session

from commons.db import session_scope
from commons.errors import Forbidden, Unauthorized
from commons.settings import Settings
from commons.store import ObjectStore
from registry.api_tokens import is_api_token, user_for_api_token
from registry.models import User
from registry.users import user_from_token
from services.dispatch import Dispatcher

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
    request: Request, session: SessionDep, settings: SettingsDep, token: Annotated[str | None, Depends(oauth2)]
) -> User | None:
    """The caller, or None without a token.

    The session's connection goes back to the pool before the endpoint runs: FastAPI runs this dependency
    and the endpoint in separate turns of its thread pool, and a request that held a connection while it
    queued for a thread could, under load, leave every thread waiting for a connection that only a queued
    request could release.

    `request.state.via_api_token` says which kind of token signed the request (see `get_session_user`)."""
    if token is None:
        return None
    request.state.via_api_token = is_api_token(token)
    try:
        if request.state.via_api_token:
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


async def get_session_user(request: Request, user: CurrentUser) -> User:
    """The caller, signed in with a password (a sign-in token), not with an API token: what a leaked API token
    must not do (make more tokens, change the password, end the sessions) needs the password's session."""
    if getattr(request.state, "via_api_token", False):
        raise Forbidden(
            "an API token cannot do this; sign in with your password (POST /api/v1/auth/token or the sign-in page) "
            "and use that session"
        )
    return user


SessionUser = Annotated[User, Depends(get_session_user)]


async def get_admin_user(user: CurrentUser) -> User:
    """The caller, an administrator (checked before the body is read: a non-admin learns nothing more)."""
    if not user.is_admin:
        raise Forbidden("only an administrator can do this")
    return user


AdminUser = Annotated[User, Depends(get_admin_user)]


class Page:
    """`limit` and `page` query parameters (page counts from 1)."""

    def __init__(self, limit: int = Query(50, ge=1, le=500), page: int = Query(1, ge=1, le=1_000_000)) -> None:
        self.limit = limit
        self.offset = (page - 1) * limit


PageDep = Annotated[Page, Depends(Page)]


TrustedProxies = tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]


def parse_trusted_proxies(value: str) -> TrustedProxies:
    """COMMONS_TRUSTED_PROXIES: comma-separated addresses or CIDRs; ValueError (at start) for anything else."""
    networks = []
    for entry in (item.strip() for item in value.split(",")):
        if not entry:
            continue
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as error:
            raise ValueError(
                f"COMMONS_TRUSTED_PROXIES has {entry!r}; list proxy addresses or CIDRs, comma-separated "
                "(e.g. '10.0.0.5,10.1.0.0/16')"
            ) from error
    return tuple(networks)


def _trusted(address: str, proxies: TrustedProxies) -> bool:
    try:
        parsed = ipaddress.ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    return any(parsed in network for network in proxies)


def client_address(request: Request) -> str | None:
    """The client's address: the peer's, unless the peer is a trusted proxy (COMMONS_TRUSTED_PROXIES), when it is
    the nearest X-Forwarded-For entry that is not itself a trusted proxy (entries further left are the client's
    own words: rotating them must not change the address rate limits count against)."""
    peer = request.client.host if request.client else None
    proxies: TrustedProxies = getattr(request.app.state, "trusted_proxies", ())
    if peer is None or not proxies or not _trusted(peer, proxies):
        return peer
    hops = [hop.strip() for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    hops = [hop for hop in hops if hop]
    for hop in reversed(hops):
        if not _trusted(hop, proxies):
            return hop[:64]
    return hops[0][:64] if hops else peer


async def get_client_address(request: Request) -> str | None:
    """The client's address for the audit trail (see `client_address`)."""
    return client_address(request)


ClientAddress = Annotated[str | None, Depends(get_client_address)]
