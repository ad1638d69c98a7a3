"""Short-lived CAS tokens, scoped to one repository and to read or write, signed with the hub's key."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from dataclasses import dataclass

import orjson

from haven.errors import Forbidden, Unauthorized

PREFIX = "xet_"
TTL = 3600


@dataclass(frozen=True)
class CasGrant:
    repo_id: int
    scope: str  # read | write
    exp: int

    def require(self, scope: str) -> None:
        if scope == "write" and self.scope != "write":
            raise Forbidden("This CAS token is read-only")


def issue(key: bytes, repo_id: int, scope: str, ttl: int = TTL) -> tuple[str, int]:
    exp = int(time.time()) + ttl
    payload = base64.urlsafe_b64encode(orjson.dumps({"r": repo_id, "s": scope, "e": exp})).decode().rstrip("=")
    sig = hmac.new(key, f"cas\x00{payload}".encode(), hashlib.sha256).hexdigest()[:43]
    return f"{PREFIX}{payload}.{sig}", exp


def verify(key: bytes, header: str | None) -> CasGrant:
    """The grant a `Bearer xet_...` header carries; 401 if missing, forged or expired."""
    if not header or not header.lower().startswith("bearer "):
        raise Unauthorized("A CAS token is required")
    token = header[7:].strip()
    if not token.startswith(PREFIX) or "." not in token:
        raise Unauthorized("Invalid CAS token")
    payload, sig = token[len(PREFIX) :].rsplit(".", 1)
    expected = hmac.new(key, f"cas\x00{payload}".encode(), hashlib.sha256).hexdigest()[:43]
    if not hmac.compare_digest(expected, sig):
        raise Unauthorized("Invalid CAS token")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        grant = CasGrant(int(data["r"]), str(data["s"]), int(data["e"]))
    except (ValueError, KeyError, TypeError):
        raise Unauthorized("Invalid CAS token") from None
    if grant.exp < time.time():
        raise Unauthorized("CAS token expired")
    return grant
