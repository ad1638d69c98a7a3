"""The `X-Haven-Mirror` response header: whether an answer about a mirrored repository is current.

`fresh`: the upstream confirmed the repository within the TTL; `stale`: the upstream could not be reached
and the answer comes from what Haven holds. The services mark the request (from any thread: the mark is a
dict shared by the request's context) and the middleware adds the header."""

from __future__ import annotations

from contextvars import ContextVar

from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = "X-Haven-Mirror"
FRESH = "fresh"
STALE = "stale"
_MARK: ContextVar[dict[str, str] | None] = ContextVar("haven_mirror_mark", default=None)


def mark(value: str) -> None:
    found = _MARK.get()
    if found is not None and found.get("status") != STALE:  # stale wins: any part of the answer may be old
        found["status"] = value


class MirrorStatusMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found: dict[str, str] = {}
        token = _MARK.set(found)

        async def send_with_status(message: Message) -> None:
            if message["type"] == "http.response.start" and "status" in found:
                message["headers"] = [*message.get("headers", []), (HEADER.lower().encode(), found["status"].encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            _MARK.reset(token)
