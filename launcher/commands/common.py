"""What every script command shares: the session from the saved credentials, errors in plain words (the API's
own message, never a traceback) and the exit codes: 0 done, 1 refused or failed, 2 a wrong command line."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import httpx
import typer

from launcher.client import ApiError
from launcher.sdk import Commons, SdkError

P = ParamSpec("P")
R = TypeVar("R")
FAILED = 1  # the API refused, the task failed, a file was missing: the message says which


def say(line: str) -> None:
    """A line for the person: on stderr, so that stdout stays what a script reads (paths, JSON)."""
    typer.echo(line, err=True)


def fail(message: str) -> typer.Exit:
    say(f"error: {message}")
    return typer.Exit(code=FAILED)


def plain_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Run `command`, turning every error a person can act on into `error: <message>` and exit code 1."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ApiError, SdkError) as error:
            raise fail(error.message) from None
        except httpx.TimeoutException as error:
            url = error.request.url if _has_request(error) else "the commons"
            raise fail(f"{url} did not answer in time; try again, or check that the commons is up") from None
        except httpx.TransportError as error:
            url = error.request.url.copy_with(path="/", query=None) if _has_request(error) else "the commons"
            raise fail(f"cannot reach {url} ({error}); check the URL and that the commons is up") from None
        except json.JSONDecodeError:
            raise fail("the server did not answer as a commons does (not JSON): check the URL") from None
        except OSError as error:
            where = f": {error.filename}" if error.filename else ""
            raise fail(f"{error.strerror or error}{where}") from None
        except KeyboardInterrupt:
            raise fail("interrupted") from None

    return wrapper


def _has_request(error: httpx.RequestError) -> bool:
    try:
        error.request  # noqa: B018 - httpx raises when the error has no request
    except RuntimeError:
        return False
    return True


def connect() -> Commons:
    """The commons `commons login` saved (COMMONS_URL and COMMONS_TOKEN override it)."""
    return Commons.from_credentials()


def print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))
