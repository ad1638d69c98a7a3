"""The datasets-server API (/is-valid, /splits, /info, /first-rows, /rows, /search, /filter, /parquet, /size,
/statistics), under /datasets-server/ and at the root of the `datasets-server.<host>` name."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from haven.api.deps import ActorDep, HubDep
from haven.api.responses import JSON
from haven.errors import BadRequest
from haven.viewer import cells
from haven.viewer import dataset as service

router = APIRouter(prefix="/datasets-server")
HOST_PREFIX = b"datasets-server."


class DatasetsServerHost:
    """Requests to datasets-server.<haven host>/X are served as /datasets-server/X (where `datasets` looks)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope["path"].startswith("/datasets-server/"):
            host = next((v for k, v in scope["headers"] if k == b"host"), b"")
            if host.lower().startswith(HOST_PREFIX):
                scope = {**scope, "path": "/datasets-server" + scope["path"],
                         "raw_path": b"/datasets-server" + scope.get("raw_path", scope["path"].encode())}  # fmt: skip
        await self.app(scope, receive, send)


def _base_url(request: Request) -> str:
    """The hub's own URL (not the datasets-server. alias), for links to files."""
    host = request.headers.get("host", "")
    if host.lower().startswith(HOST_PREFIX.decode()):
        host = host[len(HOST_PREFIX) :]
    return f"{request.url.scheme}://{host}"


def _int(request: Request, name: str, default: int) -> int:
    try:
        return int(request.query_params.get(name, default))
    except ValueError:
        raise BadRequest(f"Parameter {name!r} must be an integer") from None


async def _answer(request: Request, hub: HubDep, actor: ActorDep, build: Any) -> JSON:
    """Open the dataset (404 unless readable), build the body in a thread, add X-Revision."""
    q = request.query_params

    def work() -> tuple[dict[str, Any], str | None]:
        ds = service.open_dataset(hub, actor, q.get("dataset"), _base_url(request))
        return build(ds, q), service.revision(ds)

    body, rev = await run_in_threadpool(work)
    return JSON(body, headers={"X-Revision": rev} if rev else {})


@router.get("/is-valid")
async def is_valid(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    return await _answer(request, hub, actor, lambda ds, q: service.is_valid(ds))


@router.get("/splits")
async def splits(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    return await _answer(request, hub, actor, lambda ds, q: service.splits(ds, q.get("config")))


@router.get("/info")
async def info(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    return await _answer(request, hub, actor, lambda ds, q: service.info(ds, q.get("config")))


@router.get("/parquet")
async def parquet(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    return await _answer(request, hub, actor, lambda ds, q: service.parquet(ds, q.get("config"), q.get("split")))


@router.get("/size")
async def size(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    return await _answer(request, hub, actor, lambda ds, q: service.size(ds))


@router.get("/first-rows")
async def first_rows(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    return await _answer(
        request, hub, actor, lambda ds, q: service.first_rows(hub, ds, q.get("config"), q.get("split"))
    )


@router.get("/rows")
async def rows(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    offset, length = _int(request, "offset", 0), _int(request, "length", service.MAX_LENGTH)
    return await _answer(
        request, hub, actor, lambda ds, q: service.rows(hub, ds, q.get("config"), q.get("split"), offset, length)
    )


@router.get("/search")
async def search(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    offset, length = _int(request, "offset", 0), _int(request, "length", service.MAX_LENGTH)

    def build(ds: service.Dataset, q: Any) -> dict[str, Any]:
        return service.search(hub, ds, q.get("config"), q.get("split"), q.get("query", ""), offset, length)

    return await _answer(request, hub, actor, build)


@router.get("/filter")
async def filter_rows(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    offset, length = _int(request, "offset", 0), _int(request, "length", service.MAX_LENGTH)

    def build(ds: service.Dataset, q: Any) -> dict[str, Any]:
        where, orderby = q.get("where", ""), q.get("orderby", "")
        return service.filter_rows(hub, ds, q.get("config"), q.get("split"), where, orderby, offset, length)

    return await _answer(request, hub, actor, build)


@router.post("/sql")
async def sql_query(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """A read-only SELECT over the dataset's splits: JSON {dataset, sql, offset?, length?} -> one page."""
    try:
        body = await request.json()
    except ValueError:
        raise BadRequest("The body must be JSON: {dataset, sql, offset, length}") from None
    if not isinstance(body, dict) or not isinstance(body.get("sql"), str):
        raise BadRequest("The body must be JSON: {dataset, sql, offset, length}")
    offset, length = _body_int(body, "offset", 0), _body_int(body, "length", service.MAX_LENGTH)

    def work() -> tuple[dict[str, Any], str | None]:
        name = body.get("dataset") if isinstance(body.get("dataset"), str) else None
        ds = service.open_dataset(hub, actor, name, _base_url(request))
        return service.sql_query(hub, ds, body["sql"], offset, length), service.revision(ds)

    answer, rev = await run_in_threadpool(work)
    return JSON(answer, headers={"X-Revision": rev} if rev else {})


def _body_int(body: dict[str, Any], name: str, default: int) -> int:
    value = body.get(name, default)
    if not isinstance(value, int) or isinstance(value, bool):
        raise BadRequest(f"{name!r} must be an integer")
    return value


@router.get("/statistics")
async def column_statistics(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    return await _answer(request, hub, actor, lambda ds, q: service.statistics(ds, q.get("config"), q.get("split")))


@router.get("/assets")
async def assets(request: Request, hub: HubDep, actor: ActorDep) -> Response:
    """One image/audio cell's bytes, sandboxed like untrusted files (no script, no sniffing)."""
    q = request.query_params
    row = _int(request, "row", -1)

    def work() -> bytes:
        ds = service.open_dataset(hub, actor, q.get("dataset"), _base_url(request))
        return service.asset(hub, ds, q.get("config"), q.get("split"), row, q.get("column", ""))

    data = await run_in_threadpool(work)
    return Response(data, media_type=cells.media_type(data), headers=cells.MEDIA_HEADERS)
