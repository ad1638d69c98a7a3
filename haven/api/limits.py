"""One bound on every request body (HAVEN_MAX_REQUEST_BODY), whichever endpoint and body parser reads it.

LFS transfers are exempt: they are bounded by the size their signed URL announced, or by the part size.
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven.api.errors import error_response

EXEMPT = frozenset({"/_lfs/upload", "/_lfs/part"})
# A refused body is read and dropped up to this many bytes, so that the client, which sends the whole body
# before it reads the answer, sees the 413 instead of a connection reset. Beyond it, the connection is dropped.
DRAIN = 64 * 1024 * 1024


def _too_large(limit: int) -> str:
    return f"Request body larger than {limit} bytes"


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in EXEMPT:
            await self.app(scope, receive, send)
            return
        declared = None
        for key, value in scope["headers"]:
            if key == b"content-length":
                declared = int(value) if value.isdigit() else None
                break
        if declared is not None and declared > self.limit:
            if declared <= DRAIN:
                await _drain(receive, 0)
            await error_response(413, _too_large(self.limit))(scope, receive, send)
            return
        total = 0

        async def limited() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > self.limit:
                    if message.get("more_body", False):
                        await _drain(receive, total)
                    # An HTTPException passes FastAPI's body parsing unchanged and renders as a 413.
                    raise HTTPException(413, _too_large(self.limit))
            return message

        await self.app(scope, limited, send)


async def _drain(receive: Receive, seen: int) -> None:
    while seen <= DRAIN:
        message = await receive()
        if message["type"] != "http.request":
            return
        seen += len(message.get("body", b""))
        if not message.get("more_body", False):
            return
