"""Routing on the raw path, because clients percent-encode `/` inside revisions (`refs%2Fpr%2F1`).

The middleware decodes every escape except `%2F` and `%25` before routing, so a revision stays one
path segment; the `seg` and `fpath` convertors then finish decoding each parameter.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

from starlette.convertors import Convertor, register_url_convertor
from starlette.types import ASGIApp, Receive, Scope, Send

_ESCAPE = re.compile(rb"%([0-9A-Fa-f]{2})")
_KEEP = {b"2f", b"2F", b"25"}


def _partial_unquote(raw: bytes) -> str:
    def repl(m: re.Match[bytes]) -> bytes:
        return m.group(0).upper() if m.group(1) in _KEEP else bytes([int(m.group(1), 16)])

    return _ESCAPE.sub(repl, raw).decode("utf-8", "surrogateescape")


class RawPathMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("raw_path")
            if raw:
                raw = raw.split(b"?", 1)[0]
                scope = dict(scope)
                scope["path"] = _partial_unquote(raw)
        await self.app(scope, receive, send)


class SegmentConvertor(Convertor[str]):
    """One path segment, which may carry an encoded `/` (a revision such as refs/pr/1)."""

    regex = "[^/]+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return value.replace("%", "%25").replace("/", "%2F")


class FilePathConvertor(Convertor[str]):
    """The rest of the path: a file path in a repository."""

    regex = ".+"

    def convert(self, value: str) -> str:
        return unquote(value)

    def to_string(self, value: str) -> str:
        return value


class RepoTypeConvertor(Convertor[str]):
    regex = "models|datasets|spaces"

    def convert(self, value: str) -> str:
        return value[:-1]

    def to_string(self, value: str) -> str:
        return value + "s"


register_url_convertor("seg", SegmentConvertor())
register_url_convertor("fpath", FilePathConvertor())
register_url_convertor("rtype", RepoTypeConvertor())
