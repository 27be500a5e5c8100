"""`commons login`, `commons logout`, `commons whoami`: an API token for this machine, kept 0600."""

from __future__ import annotations

import ipaddress
from typing import Annotated
from urllib.parse import urlsplit

import typer

from launcher.commands.common import connect, plain_errors, say
from launcher.sdk import Commons, credentials
from launcher.sdk.errors import BadArgument


def _checked_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise BadArgument(f"{url!r} is not an http(s) URL of a commons, e.g. https://commons.example.org")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        say(f"warning: {parts.hostname} over plain http: the token travels unencrypted; prefer https")
    return url.strip().rstrip("/")


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@plain_errors
def login(
    url: Annotated[str, typer.Argument(help="The commons, e.g. https://commons.example.org")],
    token: Annotated[
        str | None, typer.Option(help="An API token made on the web page (mc_…); else sign in with a password.")
    ] = None,
    username: Annotated[str | None, typer.Option(help="Sign in as this user (asked when no --token).")] = None,
    password: Annotated[
        str | None, typer.Option(envvar="COMMONS_PASSWORD", help="Asked (hidden) when omitted.", show_default=False)
    ] = None,
    token_name: Annotated[str | None, typer.Option(help="Name of the API token a password sign-in makes.")] = None,
) -> None:
    """Save an API token for URL in ~/.config/commons/credentials (mode 0600). With a password, the commons
    makes a named API token (revoke it on the web page or with `commons logout`); the password is not kept."""
    address = _checked_url(url)
    if token is None:
        user = username or typer.prompt("username")
        secret = password if password is not None else typer.prompt("password", hide_input=True)
        commons, token = Commons.sign_in(address, user, secret, token_name=token_name)
    else:
        commons = Commons(address, token)
    with commons:
        me = commons.whoami()
    path = credentials.save(credentials.Credentials(url=address, token=token, username=me["username"]))
    say(f"signed in to {address} as {me['username']}; token saved in {path}")


@plain_errors
def logout(
    keep_token: Annotated[bool, typer.Option(help="Only forget the token here; do not revoke it.")] = False,
) -> None:
    """Revoke the saved API token on the commons and remove the credentials file."""
    saved = credentials.load()
    if not keep_token:
        with Commons(saved.url, saved.token) as commons:
            mine = [t for t in commons._get("/users/me/tokens") if saved.token.startswith(t["prefix"])]
            for made in mine:
                commons.client._check(commons.client.http.delete(f"/users/me/tokens/{made['id']}"))
    forgotten = credentials.forget()
    say(f"signed out of {saved.url}" + ("" if forgotten else " (no credentials file; COMMONS_TOKEN is still set)"))


@plain_errors
def whoami() -> None:
    """The account and commons the saved token (or COMMONS_URL and COMMONS_TOKEN) speaks for."""
    with connect() as commons:
        me = commons.whoami()
        typer.echo(f"{me['username']} on {commons.url}")
