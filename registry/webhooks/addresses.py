"""Where a webhook may be sent: an http(s) URL whose host resolves only to public addresses (SSRF), unless an admin
allows private ones (`COMMONS_WEBHOOK_ALLOW_PRIVATE`) or names networks (`COMMONS_WEBHOOK_ALLOWED_NETWORKS`).

The name is resolved and EVERY address checked, at registration and again before each attempt; the sender then
connects to a checked address itself (see services/webhook_delivery.py), so a name that resolves elsewhere a
moment later (DNS rebinding) never redirects a delivery.
"""

from __future__ import annotations

import ipaddress
import socket
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

from commons.errors import InvalidInput
from commons.webhook_settings import Network, WebhookSettings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
URL_LIMIT = 2000
RESOLVE_SECONDS = 5.0
MAX_ADDRESSES = 16
NAT64 = ipaddress.ip_network("64:ff9b::/96")
_resolver = ThreadPoolExecutor(max_workers=4, thread_name_prefix="webhook-dns")


@dataclass(frozen=True)
class AddressPolicy:
    allow_private: bool = False
    allowed_networks: tuple[Network, ...] = ()

    @classmethod
    def from_settings(cls, settings: WebhookSettings) -> AddressPolicy:
        return cls(allow_private=settings.allow_private, allowed_networks=tuple(settings.allowed_networks))


@dataclass(frozen=True)
class Target:
    """A checked URL: its parts, and the addresses its host resolved to (every one allowed)."""

    scheme: str
    host: str
    port: int
    path: str
    addresses: tuple[IPAddress, ...]

    @property
    def host_header(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        default = (self.scheme, self.port) in (("http", 80), ("https", 443))
        return host if default else f"{host}:{self.port}"

    def url_at(self, address: IPAddress) -> str:
        """The URL with the host replaced by `address` (the connection is pinned to it)."""
        shown = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{shown}:{self.port}{self.path}"


def _split(url: str, field: str) -> SplitResult:
    """`url` parsed, refused unless it is an absolute http(s) URL with a host and no user:password."""
    if len(url) > URL_LIMIT:
        raise InvalidInput(f"the webhook URL is {len(url)} characters long; at most {URL_LIMIT}", field=field)
    if any(ord(character) < 0x21 or ord(character) == 0x7F for character in url):
        raise InvalidInput("the webhook URL holds spaces or control characters; percent-encode them", field=field)
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError as error:
        raise InvalidInput(f"the webhook URL {url!r} cannot be read: {error}", field=field) from error
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(
            f"the webhook URL {url!r} is not an absolute http:// or https:// URL; write e.g. "
            "https://example.org/hooks/commons",
            field=field,
        )
    if parts.username is not None or parts.password is not None:
        raise InvalidInput(
            "the webhook URL carries a user name or password; leave them out (deliveries are signed: check the "
            "webhook-signature header instead)",
            field=field,
        )
    return parts


def _literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def resolve(host: str, port: int, *, field: str = "url") -> tuple[IPAddress, ...]:
    """Every address `host` resolves to (a literal: itself), within RESOLVE_SECONDS."""
    literal = _literal(host)
    if literal is not None:
        return (literal,)
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError as error:
        raise InvalidInput(f"the webhook host {host!r} is not a valid host name", field=field) from error
    lookup = _resolver.submit(socket.getaddrinfo, ascii_host, port, type=socket.SOCK_STREAM)
    try:
        found = lookup.result(timeout=RESOLVE_SECONDS)
    except FutureTimeout as error:
        raise InvalidInput(
            f"the webhook host {host!r} did not resolve within {RESOLVE_SECONDS:g} s", field=field
        ) from error
    except (OSError, ValueError) as error:
        raise InvalidInput(
            f"the webhook host {host!r} does not resolve ({error}); check the name", field=field
        ) from error
    addresses = tuple(dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in found))
    if not addresses:
        raise InvalidInput(f"the webhook host {host!r} resolves to no address", field=field)
    return addresses[:MAX_ADDRESSES]


def _embedded_v4(address: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries (mapped, 6to4, NAT64): it is where the packets go."""
    if address.version == 4:
        return None
    v6 = ipaddress.IPv6Address(int(address))
    if v6.ipv4_mapped is not None:
        return v6.ipv4_mapped
    if v6.sixtofour is not None:
        return v6.sixtofour
    if v6 in NAT64:
        return ipaddress.IPv4Address(int(v6) & 0xFFFFFFFF)
    return None


def _kind(address: IPAddress) -> str | None:
    """Why `address` is not public ("loopback", "private", …), or None for a public one."""
    for name in ("unspecified", "multicast", "loopback", "link_local", "private", "reserved"):
        if getattr(address, f"is_{name}"):
            return name.replace("_", "-")
    return None if address.is_global else "non-public"


def why_refused(address: IPAddress, policy: AddressPolicy) -> str | None:
    """Why a webhook may not go to `address` (a phrase), or None when it may."""
    seen = _embedded_v4(address) or address
    kind = _kind(seen)
    if kind in ("unspecified", "multicast"):
        return f"{address} is a{'n' if kind == 'unspecified' else ''} {kind} address"
    if kind is None or policy.allow_private:
        return None
    if any(seen in network or address in network for network in policy.allowed_networks):
        return None
    return f"{address} is a {kind} address"


def check_url(url: str, policy: AddressPolicy, *, field: str = "url") -> Target:
    """The checked target of `url`; InvalidInput (422) naming the address when any resolved address is refused."""
    parts = _split(url, field)
    host = str(parts.hostname).rstrip(".").lower()
    port = parts.port or (443 if parts.scheme == "https" else 80)
    addresses = resolve(host, port, field=field)
    for address in addresses:
        why = why_refused(address, policy)
        if why is not None:
            raise InvalidInput(
                f"webhooks are not sent to {host!r}: {why}, reachable only inside this network; give a public "
                "address (an admin may allow private ones with COMMONS_WEBHOOK_ALLOW_PRIVATE or "
                "COMMONS_WEBHOOK_ALLOWED_NETWORKS)",
                field=field,
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(scheme=parts.scheme, host=host, port=port, path=path, addresses=addresses)
