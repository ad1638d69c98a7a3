"""Readiness (can this process serve: database and storage answer) and the Prometheus metrics page.

Liveness is /api/health (the process answers at all); readiness is for load balancers and orchestrators,
which should send no traffic to a process whose database or storage is gone, and 503 tells them so.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
import time
from collections.abc import Callable

from fastapi import APIRouter, FastAPI, Request, Response
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from haven.api.deps import HubDep, credential
from haven.api.errors import error_response
from haven.api.responses import JSON
from haven.errors import InvalidToken
from haven.hub import Hub
from haven.ops import metrics

log = logging.getLogger("haven")
router = APIRouter()


def check_database(hub: Hub) -> None:
    with hub.db.read() as session:
        session.execute(text("SELECT 1"))


def check_storage(hub: Hub) -> None:
    """The repositories and blobs directories exist, and the data dir takes a write (not full, not read-only)."""
    for path in (hub.settings.repos_dir, hub.settings.blobs_dir):
        if not path.is_dir():
            raise OSError(f"the {path.name} directory is missing")  # no absolute paths to anonymous callers
    probe = hub.settings.data_dir / f".ready-{os.getpid()}-{secrets.token_hex(4)}"
    try:
        probe.write_bytes(b"ok")
        if probe.read_bytes() != b"ok":
            raise OSError("the storage probe read back different bytes")
    finally:
        probe.unlink(missing_ok=True)


CHECKS: dict[str, Callable[[Hub], None]] = {"database": check_database, "storage": check_storage}


def database_unavailable(exc: DBAPIError) -> bool:
    """Whether a database error means "not reachable right now" (restart, failover, network), not a bug."""
    if exc.connection_invalidated:
        return True
    state = getattr(exc.orig, "sqlstate", None)  # psycopg: None when there never was a connection
    if isinstance(exc, OperationalError):
        return state is None or state.startswith(("08", "57P")) or "database is locked" in str(exc.orig)
    return state is not None and state.startswith(("08", "57P"))


def install(app: FastAPI) -> None:
    """Requests that meet a database outage get 503 with Retry-After (clients retry), not a 500."""

    @app.exception_handler(DBAPIError)
    async def _unavailable(request: Request, exc: DBAPIError) -> Response:
        rid = request.scope.get("haven.request_id", "")
        if not database_unavailable(exc):
            log.error("database error on %s %s (request %s)", request.method, request.url.path, rid, exc_info=exc)
            return error_response(500, f"Internal server error (request id {rid})")
        log.warning("database unavailable on %s %s (request %s): %s", request.method, request.url.path, rid, exc.orig)
        return error_response(503, "The database is unavailable; retry shortly", headers={"Retry-After": "5"})


@router.get("/api/ready")
def ready(hub: HubDep) -> Response:
    results: dict[str, dict[str, object]] = {}
    for name, check in CHECKS.items():
        started = time.perf_counter()
        try:
            check(hub)
        except Exception as e:  # any failure means not ready; the details go to the log, not to callers
            log.warning("readiness check %s failed: %s", name, e)
            # Anyone may ask: a database error names its host and port, an OSError its path (strerror has neither;
            # the storage check's own OSErrors name no path).
            detail = (e.strerror or str(e)) if isinstance(e, OSError) else "not reachable (see the server log)"
            results[name] = {"ok": False, "error": f"{type(e).__name__}: {detail}"[:300]}
        else:
            results[name] = {"ok": True, "ms": round((time.perf_counter() - started) * 1000, 1)}
    ok = all(r["ok"] for r in results.values())
    return JSON({"status": "ready" if ok else "unavailable", "checks": results}, status_code=200 if ok else 503)


@router.get("/metrics", include_in_schema=False)
def prometheus(request: Request, hub: HubDep) -> Response:
    expected = hub.settings.metrics_token
    if expected:
        given = credential(request.headers.get("authorization")) or ""
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise InvalidToken()
    body, content_type = metrics.exposition(hub.db)
    return Response(body, media_type=content_type)
