"""The ASGI application: routers, error handlers and the per-process Hub."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

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
from haven.api.inference_lane import InferenceLane
from haven.api.limits import BodyLimitMiddleware
from haven.api.paths import RawPathMiddleware
from haven.api.ratelimit import RateLimitMiddleware, buckets
from haven.api.signing import Signer
from haven.config import Settings
from haven.hub import Hub
from haven.jobs import registry
from haven.mirror.status import MirrorStatusMiddleware
from haven.ops import health, heap, metrics
from haven.ops.middleware import RequestObserver, RouteRecorder
from haven.ratelimit.counters import WindowCounters
from haven.repos.listing import set_facet_ttl

log = logging.getLogger("haven")


def rate_counters(settings: Settings) -> WindowCounters:
    """Counters in a file of the data directory, shared by every server process on this host (locked only
    when there are several)."""
    return WindowCounters(settings.data_dir / "ratelimit.counters", shared=settings.workers > 1)


def create_app(settings: Settings | None = None, hub: Hub | None = None) -> FastAPI:
    settings = settings or Settings()
    hub = hub or Hub.open(settings)

    set_facet_ttl(settings.facet_ttl)
    jobs = registry.build_worker(hub, settings.job_workers, registry.parse_kinds(settings.job_kinds))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        metrics.process_started()
        jobs.start()
        hub.downloads.start_clock()  # trending scores decay even on days without downloads
        heap.settle(settings.gc_freeze)  # last: what start-up made lives as long as the process
        yield
        inference.shutdown(app)
        jobs.stop()  # a job cut short runs again later (its lease expires); HTTP shutdown goes first
        hub.close()
        metrics.process_stopped()

    app = FastAPI(
        title="Haven", docs_url="/api/docs", openapi_url="/api/openapi.json", redoc_url=None, lifespan=lifespan
    )
    app.state.hub = hub
    app.state.signer = Signer(settings.signing_key(), settings.signed_url_ttl)
    errors.install(app)
    health.install(app)
    app.include_router(health.router)
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
    app.add_middleware(RouteRecorder)  # first added, so innermost: it sees the router's scope
    # the classic inference routes, answered without the router (latency); every middleware below applies
    app.add_middleware(InferenceLane, handlers=app.exception_handlers)
    app.add_middleware(BodyLimitMiddleware, limit=settings.max_request_body)
    app.add_middleware(RawPathMiddleware)
    app.add_middleware(audit.ClientAddressMiddleware)
    if buckets(settings):  # off by default: then not even a pass-through layer
        app.add_middleware(RateLimitMiddleware, settings=settings, counters=rate_counters(settings))
    app.add_middleware(viewer.DatasetsServerHost)
    app.add_middleware(MirrorStatusMiddleware)
    app.add_middleware(RequestObserver)  # last added, so outermost: times and logs everything
    return app
