"""Where the command line keeps its URL and API token: `~/.config/commons/credentials` (under
`$XDG_CONFIG_HOME` when set), JSON, readable by its owner alone (0600, in a 0700 folder). COMMONS_URL and
COMMONS_TOKEN override what the file holds."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from launcher.sdk.errors import NotSignedIn

URL_VARIABLE = "COMMONS_URL"
TOKEN_VARIABLE = "COMMONS_TOKEN"  # noqa: S105 - the variable's name, not a secret
MAX_FILE_BYTES = 64 * 1024


@dataclass(frozen=True)
class Credentials:
    url: str
    token: str
    username: str = ""


def credentials_path() -> Path:
    """The credentials file: `$XDG_CONFIG_HOME/commons/credentials`, else `~/.config/commons/credentials`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "commons" / "credentials"


def save(credentials: Credentials, path: Path | None = None) -> Path:
    """Write the file with mode 0600 from its creation on (never readable by others, not even for a moment)."""
    target = path or credentials_path()
    target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    body = json.dumps({"url": credentials.url, "token": credentials.token, "username": credentials.username})
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(descriptor, 0o600)  # an older file may have been made with wider rights
        os.write(descriptor, (body + "\n").encode())
    finally:
        os.close(descriptor)
    return target


def forget(path: Path | None = None) -> bool:
    """Remove the file; whether there was one."""
    target = path or credentials_path()
    if not target.exists():
        return False
    target.unlink()
    return True


def _from_file(path: Path) -> dict[str, str]:
    if not path.is_file():
        return {}
    if path.stat().st_size > MAX_FILE_BYTES:
        raise NotSignedIn(f"{path} is over {MAX_FILE_BYTES // 1024} KiB, not a credentials file: run `commons login`")
    try:
        stored = json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as error:
        raise NotSignedIn(f"{path} is not valid JSON ({error}): run `commons login` again") from error
    if not isinstance(stored, dict):
        raise NotSignedIn(f"{path} does not hold an object with url and token: run `commons login` again")
    return {key: value for key, value in stored.items() if isinstance(value, str)}


def load(path: Path | None = None) -> Credentials:
    """The URL and token to use: COMMONS_URL and COMMONS_TOKEN first, then the file (its token only for its URL)."""
    target = path or credentials_path()
    stored = _from_file(target)
    url = os.environ.get(URL_VARIABLE) or stored.get("url", "")
    # The file's token goes only to the server it was made for, never to another URL named in the environment.
    same_server = stored.get("url", "").rstrip("/") == url.rstrip("/")
    token = os.environ.get(TOKEN_VARIABLE) or (stored.get("token", "") if same_server else "")
    if not url:
        raise NotSignedIn(f"no commons URL: run `commons login URL`, or set {URL_VARIABLE} (and {TOKEN_VARIABLE})")
    if not token:
        raise NotSignedIn(f"no API token for {url}: run `commons login {url}`, or set {TOKEN_VARIABLE}")
    return Credentials(url=url, token=token, username=stored.get("username", ""))
