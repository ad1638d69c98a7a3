"""Renders errors the way huggingface_hub's `hf_raise_for_status` reads them."""

from __future__ import annotations

import logging
import re

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.responses import Response

from haven.api.responses import JSON
from haven.errors import HavenError

log = logging.getLogger("haven")


_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f]")


def _header_safe(message: str) -> str:
    """Latin-1 without control characters: a header the server refuses to send would turn the error into a 500."""
    return _HEADER_UNSAFE.sub(" ", message.encode("latin-1", "replace").decode("latin-1"))[:1000]


def error_response(
    status: int, message: str, code: str | None = None, headers: dict[str, str] | None = None, **extra: object
) -> Response:
    hdrs = {"X-Error-Message": _header_safe(message), **(headers or {})}
    if code:
        hdrs["X-Error-Code"] = code
    return JSON({"error": message, **extra}, status_code=status, headers=hdrs)


def install(app: FastAPI) -> None:
    @app.exception_handler(HavenError)
    async def _haven(request: Request, exc: HavenError) -> Response:
        extra = dict(exc.extra)
        url_path = extra.pop("url_path", None)
        if url_path is not None:
            extra["url"] = f"{base_url(request)}/{url_path}"
        return error_response(exc.status, exc.message, exc.code, exc.headers, **extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        parts = []
        for err in exc.errors()[:5]:
            loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
            parts.append(f"{loc}: {err.get('msg')}" if loc else str(err.get("msg")))
        return error_response(400, "Bad request: " + "; ".join(parts))

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(exc.status_code, str(exc.detail), headers=dict(exc.headers or {}))

    @app.exception_handler(ClientDisconnect)
    async def _gone(request: Request, exc: ClientDisconnect) -> Response:
        # The client hung up mid-body (an interrupted upload): not a server error; whoever read the body cleaned up.
        log.info("client disconnected during %s %s", request.method, request.url.path)
        return Response(status_code=499)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> Response:
        rid = request.scope.get("haven.request_id", "")
        log.exception("unhandled error on %s %s (request %s)", request.method, request.url.path, rid)
        # Answered outside the request-id middleware, so the header is set here.
        return error_response(500, f"Internal server error (request id {rid})", headers={"X-Request-Id": rid})


def base_url(request: Request) -> str:
    configured = request.app.state.hub.settings.public_url
    if configured:
        return configured.rstrip("/")
    host = request.headers.get("host") or f"{request.url.hostname}:{request.url.port}"
    return f"{request.url.scheme}://{host}"
