"""Per-request observability: a request id on every response, metrics by route template, one log line each.

Two ASGI middlewares share a `RequestRecord` put in the scope: `RequestObserver` (outermost) times the
request, counts the bytes it sends and logs it; `RouteRecorder` (innermost, right outside the router)
notes which route matched, since the middlewares between them pass copies of the scope on. Handlers that
learn who the caller is note it too (`note_user`).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven.ops import metrics

access = logging.getLogger("haven.access")

# A client's id is echoed in headers and logs: only short ids of harmless characters are taken.
CLIENT_ID = re.compile(r"^[A-Za-z0-9._:;=/+\-]{1,128}$")
UNMATCHED = "<unmatched>"


@dataclass
class RequestRecord:
    id: str
    route: str | None = None
    user: str | None = None


def record_of(scope: Scope) -> RequestRecord | None:
    return scope.get("haven.request")


def note_user(scope: Scope, name: str | None) -> None:
    record = record_of(scope)
    if record is not None and name:
        record.user = name


def request_id(scope: Scope) -> str:
    """The client's X-Request-Id (or X-Amzn-Trace-Id, as huggingface_hub sends) when acceptable, else a new one."""
    for wanted in (b"x-request-id", b"x-amzn-trace-id"):
        for key, value in scope["headers"]:
            if key == wanted:
                text = value.decode("latin-1")
                if CLIENT_ID.match(text):
                    return text
    return uuid.uuid4().hex


class RequestObserver:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        record = RequestRecord(request_id(scope))
        # In place, not a copy: the server-error handler outside this middleware reads the id from this scope.
        scope["haven.request_id"], scope["haven.request"] = record.id, record
        started = time.perf_counter()
        status, sent = 500, 0  # what the log says if the app raises before answering

        async def observed_send(message: Message) -> None:
            nonlocal status, sent
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", record.id.encode())]
            elif message["type"] == "http.response.body":
                sent += len(message.get("body", b""))
            await send(message)

        metrics.IN_FLIGHT.inc()
        try:
            await self.app(scope, receive, observed_send)
        finally:
            metrics.IN_FLIGHT.dec()
            self._finish(scope, record, status, sent, time.perf_counter() - started)

    def _finish(self, scope: Scope, record: RequestRecord, status: int, sent: int, seconds: float) -> None:
        route = record.route or UNMATCHED
        method = scope["method"]
        metrics.observe_request(route, method, status, seconds, sent)
        access.info(
            "%s %s %d",
            method,
            scope["path"],
            status,
            extra={
                "fields": {
                    "request_id": record.id,
                    "method": method,
                    "path": scope["path"],
                    "route": route,
                    "status": status,
                    "duration_ms": round(seconds * 1000, 2),
                    "bytes": sent,
                    "user": record.user,
                }
            },
        )


class RouteRecorder:
    """Innermost: after the router ran, the scope it was given names the route that matched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            record = record_of(scope)
            route = scope.get("route")
            if record is not None and route is not None:
                record.route = getattr(route, "path_format", None) or getattr(route, "path", None)
