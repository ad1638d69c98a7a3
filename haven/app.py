"""The ASGI application: routers, error handlers and the per-process Hub."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from haven import web
from haven.api import (
    audit,
    discussions,
    errors,
    files,
    gating,
    git,
    inference,
    lfs,
    listing,
    orgs,
    repos,
    tokens,
    tree,
    upload,
    viewer,
    webhooks,
    xet,
)
from haven.api.limits import BodyLimitMiddleware
from haven.api.paths import RawPathMiddleware
from haven.api.ratelimit import RateLimitMiddleware, buckets
from haven.api.signing import Signer
from haven.config import Settings
from haven.hub import Hub
from haven.jobs.worker import Worker
from haven.metadata import tasks as metadata_tasks
from haven.mirror.status import MirrorStatusMiddleware
from haven.ratelimit.counters import WindowCounters
from haven.scanning import tasks as scan_tasks
from haven.viewer import tasks as viewer_tasks
from haven.webhooks import tasks as webhook_tasks

log = logging.getLogger("haven")


class RequestIdMiddleware:
    """Every response carries x-request-id, echoing the client's X-Amzn-Trace-Id when it sends one."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        rid = b""
        for key, value in scope["headers"]:
            if key == b"x-amzn-trace-id":
                rid = value
                break
        rid = rid or uuid.uuid4().hex.encode()
        scope = {**scope, "haven.request_id": rid.decode("latin-1")}  # error pages show it

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def rate_counters(settings: Settings) -> WindowCounters:
    """Counters in a file of the data directory, shared by every server process on this host (locked only
    when there are several)."""
    return WindowCounters(settings.data_dir / "ratelimit.counters", shared=settings.workers > 1)


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    settings = settings or Settings()
    hub = hub or Hub.open(settings)

    handlers = {
        metadata_tasks.KIND: metadata_tasks.handler(hub),
        scan_tasks.KIND: scan_tasks.handler(hub),
        webhook_tasks.KIND: webhook_tasks.handler(hub),
        viewer_tasks.KIND: viewer_tasks.handler(hub),
    }
    jobs = Worker(hub.db, handlers, threads=settings.job_workers)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        jobs.start()
        hub.downloads.start_clock()  # trending scores decay even on days without downloads
        yield
        inference.shutdown(app)
        jobs.stop()
        hub.close()

    app = FastAPI(
        title="Haven", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None, lifespan=lifespan
    )
    app.state.hub = hub
    app.state.signer = Signer(settings.signing_key(), settings.signed_url_ttl)
    errors.install(app)
    app.include_router(inference.router)  # first: POST /models/... and /v1/... before any catch-all
    app.include_router(viewer.router)
    # git before /resolve's catch-all
    for module in (
        repos,
        gating,
        webhooks,
        audit,
        orgs,
        tokens,
        listing,
        upload,
        discussions,
        tree,
        lfs,
        xet,
        git,
        files,
    ):
        app.include_router(module.router)
    web.install(app)  # after the API: its routes win every path both could match
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_body)
    app.add_middleware(RawPathMiddleware)
    app.add_middleware(audit.ClientAddressMiddleware)
    if buckets(settings):  # off by default: then not even a pass-through layer
        app.add_middleware(RateLimitMiddleware, settings=settings, counters=rate_counters(settings))
    app.add_middleware(viewer.DatasetsServerHost)
    app.add_middleware(MirrorStatusMiddleware)
    app.add_middleware(RequestIdMiddleware)
    return app
