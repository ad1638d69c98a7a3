"""The classic Inference API routes (`POST /models/{namespace}/{name}` and its revision/task forms) served
without FastAPI's router and request machinery.

Latency is what these routes are judged on (issue 7: a single embedding within 15% of calling the model
in-process, ~1.7 ms of budget for everything that is not the model). FastAPI's own layers between Haven's
middlewares and the endpoint (exception middleware, exit stack, the route walk, the request handler's
dependency solving and response building) cost ~0.1-0.2 ms of event-loop time per request for nothing these
endpoints use: they take no dependencies and read their own body. This middleware sits innermost among
Haven's, so every one of them still applies (request id, metrics, access log, rate limits, body limit,
raw-path decoding, audit address, mirror header); only the routing is done here, for exactly the paths those
routes match, and errors are rendered by the app's own exception handlers, as FastAPI would. Access checks
are the endpoint's (`inference._classic`), unchanged.
"""

from __future__ import annotations

import inspect
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import ASGIApp, Receive, Scope, Send

from haven.api import inference
from haven.ops.middleware import record_of


def classic_target(path: str) -> tuple[str, str, str, str | None] | None:
    """(route template, repository id, revision, task) when `path` is one of the classic inference routes,
    else None. Segments are taken as FastAPI's `{param}` takes them (any non-empty run without a slash)."""
    parts = path.split("/")
    if len(parts) < 4 or parts[0] or not all(parts[1:]):
        return None
    if parts[1] == "models":
        repo = f"{parts[2]}/{parts[3]}"
        if len(parts) == 4:
            return inference.CLASSIC, repo, "main", None
        if len(parts) == 6 and parts[4] == "revision":
            return inference.AT_REVISION, repo, parts[5], None
        if len(parts) == 6 and parts[4] == "pipeline":
            return inference.WITH_TASK, repo, "main", parts[5]
    elif parts[1] == "pipeline" and len(parts) == 5:
        return inference.PIPELINE, f"{parts[3]}/{parts[4]}", "main", parts[2]
    return None


class InferenceLane:
    """Answers the classic inference routes itself; passes every other request on."""

    def __init__(self, app: ASGIApp, handlers: dict[Any, Any]) -> None:
        self.app = app
        self.handlers = handlers  # the app's exception handlers (the dict itself: filled as the app is built)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = None
        if scope["type"] == "http" and scope["method"] == "POST" and scope["path"].startswith(inference.PREFIXES):
            target = classic_target(scope["path"])
        if target is None:
            await self.app(scope, receive, send)
            return
        template, repo, revision, task = target
        record = record_of(scope)
        if record is not None:
            record.route = template  # the label FastAPI's route would have given the metrics and the log
        request = Request(scope, receive)
        try:  # nothing is sent before the endpoint returns its response
            response = await inference._classic(request, repo, revision, task)
        except Exception as exc:
            handler = self._handler(exc)
            if handler is None:
                raise  # the server-error handler outside renders it, as for any route
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            exc.__traceback__ = None  # reused exception instances would pile up tracebacks
        await response(scope, receive, send)

    def _handler(self, exc: Exception) -> Any:
        """The handler FastAPI's exception middleware would pick: the nearest class with one, bar the
        catch-all (that one belongs to the outermost server-error middleware)."""
        for cls in type(exc).__mro__:
            if cls is Exception:
                return None
            if cls in self.handlers:
                return self.handlers[cls]
        return None
