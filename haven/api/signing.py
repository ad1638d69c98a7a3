"""Signed, expiring URLs: the credentials for LFS transfers, where clients send no Authorization."""

from __future__ import annotations

import hashlib
import hmac
import time
from urllib.parse import urlencode

from haven.errors import Forbidden


class Signer:
    def __init__(self, key: bytes, ttl: int) -> None:
        self.key = key
        self.ttl = ttl

    def _mac(self, parts: list[str]) -> str:
        return hmac.new(self.key, "\x00".join(parts).encode(), hashlib.sha256).hexdigest()[:40]

    def sign(self, purpose: str, **fields: str) -> str:
        """A query string carrying `fields`, an expiry and a signature over both."""
        exp = str(int(time.time()) + self.ttl)
        items = sorted(fields.items())
        sig = self._mac([purpose, exp, *(f"{k}={v}" for k, v in items)])
        return urlencode([*items, ("exp", exp), ("sig", sig)])

    def verify(self, purpose: str, params: dict[str, str], names: tuple[str, ...]) -> dict[str, str]:
        """The signed fields, or Forbidden if the signature is wrong or expired."""
        try:
            exp, sig = params["exp"], params["sig"]
            fields = {k: params[k] for k in names}
        except KeyError:
            raise Forbidden("Missing signature") from None
        expected = self._mac([purpose, exp, *(f"{k}={v}" for k, v in sorted(fields.items()))])
        if not hmac.compare_digest(expected, sig):
            raise Forbidden("Invalid signature")
        if not exp.isdigit() or int(exp) < time.time():
            raise Forbidden("This link has expired")
        return fields
