"""The SSRF guard: a webhook may only target public addresses, unless an admin allows private ones
(HAVEN_WEBHOOKS_ALLOW_PRIVATE). Cloud metadata endpoints are refused even then: nothing legitimate lives
there, and a token stolen from one is the whole cloud account."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from haven.errors import BadRequest

MAX_URL = 2048
METADATA = frozenset(
    ipaddress.ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "fd00:ec2::254", "100.100.100.200")
)

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class Refused(BadRequest):
    """The target is not an address webhooks may reach."""


def check_url(url: str) -> tuple[str, int]:
    """Host and port of an http(s) URL, or BadRequest."""
    if len(url) > MAX_URL:
        raise BadRequest(f"The webhook URL is longer than {MAX_URL} characters")
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise BadRequest("The webhook URL is not a valid URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("The webhook URL must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise BadRequest("The webhook URL must not carry credentials; use the secret")
    return parts.hostname, port


def check_target(url: str, allow_private: bool) -> list[Address]:
    """Every address the URL's host resolves to, after checking each may be reached (Refused if not)."""
    host, port = check_url(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        raise Refused(f"The webhook host {host!r} does not resolve") from None
    addresses = sorted({_address(info[4][0]) for info in infos}, key=str)
    for address in addresses:
        why = refusal(address, allow_private)
        if why:
            raise Refused(f"The webhook URL resolves to {address}, {why}")
    return addresses


def _address(raw: object) -> Address:
    address = ipaddress.ip_address(str(raw).split("%", 1)[0])
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def refusal(address: Address, allow_private: bool) -> str | None:
    """Why webhooks may not reach `address`, or None."""
    if address in METADATA:
        return "a cloud metadata address (always refused)"
    if address.is_global and not address.is_multicast:
        return None
    if address.is_unspecified or address.is_multicast:
        return "which is not a unicast address"
    if allow_private:
        return None
    kind = "loopback" if address.is_loopback else "link-local" if address.is_link_local else "private or reserved"
    return f"a {kind} address (an admin may allow these with HAVEN_WEBHOOKS_ALLOW_PRIVATE=true)"
