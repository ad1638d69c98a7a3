"""Downloads: /resolve (GET and HEAD) with the Hub's headers, and the signed blob URLs LFS files redirect to."""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from haven.api import mirror_files
from haven.api.common import check_gate, lookup, resolve_rev
from haven.api.deps import cached_actor, credential, get_actor
from haven.api.errors import base_url
from haven.api.headers import UNTRUSTED, blob_headers, content_type, quote_filename
from haven.api.responses import FileBody, bytes_body, bytes_head, parse_range
from haven.auth.permissions import Actor, Permission
from haven.auth.service import hash_token
from haven.cas import service as cas
from haven.errors import EntryNotFound, NotFound
from haven.git.store import open_repo
from haven.hub import Hub
from haven.mirror.rules import config as mirror_config
from haven.names import check_path
from haven.repos.service import RepoRef
from haven.storage.local import OID_RE
from haven.storage.s3 import S3BlobStore

router = APIRouter()
GET_HEAD = ["GET", "HEAD"]


def resolve(
    repo_type: str,
    namespace: str,
    name: str,
    revision: str,
    path: str,
    request: Request,
    hub: Hub,
    actor: Actor,
    ref: RepoRef | None = None,
) -> Response:
    if ref is None:
        ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    commit = resolve_rev(ref, revision)
    check_path(path)
    entry = ref.git.entry(commit, path)
    if entry is None or entry.type != "file":
        raise EntryNotFound(f"Entry not found: {path} at {revision}", headers={"X-Repo-Commit": commit})
    check_gate(hub, ref, actor)
    hub.downloads.record(ref.type, ref.row.id, path)
    head = request.method == "HEAD"
    # Repository files are untrusted: an HTML or SVG file opened from /resolve must not run script in the
    # hub's origin (where the web UI's session lives), so it renders sandboxed, in an origin of its own.
    headers = {"X-Repo-Commit": commit, "Content-Type": content_type(path), **UNTRUSTED}
    if entry.pointer is None:
        headers["ETag"] = f'"{entry.oid}"'
        if head:  # the size is known without reading (and inflating) the blob
            return bytes_head(entry.size, headers, request.headers.get("range"))
        return bytes_body(ref.git.read_blob(entry.oid), headers, request.headers.get("range"), head)
    oid, size = entry.pointer.oid, entry.pointer.size
    if hub.blobs.size(oid) is None:  # not a plain blob: Xet chunks, or a mirrored file not fetched yet
        return _xet_file(request, hub, ref, commit, path, oid, size, headers)
    headers.update(
        {
            "ETag": f'"{entry.oid}"',
            "X-Linked-Etag": f'"{oid}"',
            "X-Linked-Size": str(size),
            "Location": blob_location(request, hub, oid, commit, path.rsplit("/", 1)[-1]),
            "Content-Length": "0",
        }
    )
    return Response(status_code=302, headers=headers)


def blob_location(request: Request, hub: Hub, oid: str, commit: str, name: str) -> str:
    """Where a plain blob's bytes are fetched: a presigned URL on the object store (the bytes never pass
    through Haven), else Haven's own signed /_blobs URL (served by the sendfile blob server when it runs)."""
    if isinstance(hub.blobs, S3BlobStore):
        return hub.blobs.download_url(oid, quote_filename(name), content_type(name))
    query = request.app.state.signer.sign("blob", oid=oid, commit=commit, name=name)
    return f"{_blob_base(request)}/_blobs/{oid}?{query}"


def _xet_file(
    request: Request, hub: Hub, ref: RepoRef, commit: str, path: str, oid: str, size: int, headers: dict[str, str]
) -> Response:
    """A Xet-stored file: advertised to Xet clients (X-Xet-Hash, xet-auth link), and served to everyone
    else as plain bytes rebuilt from its chunks, with Range support. Neither that nor a blob: a mirrored
    file not fetched yet (haven.api.mirror_files), or missing."""
    info = cas.file_by_sha256(hub, oid)
    if info is None:
        return mirror_files.serve(request, hub, ref, commit, path, oid, size, headers)
    head = request.method == "HEAD"
    refresh = f"{base_url(request)}/api/{ref.type}s/{ref.full_id}/xet-read-token/{commit}"
    headers.update(
        {
            "ETag": f'"{oid}"',
            "X-Linked-Etag": f'"{oid}"',
            "X-Linked-Size": str(info.size),
            "X-Xet-Hash": info.file_id,
            "Link": f'<{refresh}>; rel="xet-auth"',
        }
    )
    return xet_body(hub, info, headers, request.headers.get("range"), head)


def xet_body(
    hub: Hub, info: cas.XetFileInfo, headers: dict[str, str], range_header: str | None, head: bool
) -> Response:
    """The bytes of a Xet-stored file (or a range of them), rebuilt from its chunks as they are sent."""
    byte_range = parse_range(range_header, info.size) if info.size else None
    start, end = byte_range or (0, info.size - 1)
    headers = {**headers, "Accept-Ranges": "bytes", "Content-Length": str(end - start + 1 if info.size else 0)}
    status = 200
    if byte_range is not None:
        status = 206
        headers["Content-Range"] = f"bytes {start}-{end}/{info.size}"
    if head or info.size == 0:
        return Response(status_code=status, headers=headers)
    body = iterate_in_threadpool(cas.iter_file(hub, info, start, end))
    return StreamingResponse(body, status_code=status, headers=headers)


class _LookupCache:
    """Repository lookups for /resolve, kept until the database next changes, so a hit is exactly what the
    query would return now.

    SQLite only: `PRAGMA data_version` on a connection of our own moves whenever any other connection, in
    any process, commits (a few microseconds to ask). Any commit clears everything; the batched download
    counter commits about once a second under load, so that costs one real lookup a second. Elsewhere
    (PostgreSQL) nothing is cached.
    """

    MAX = 10_000

    def __init__(self, hub: Hub) -> None:
        self._lock = threading.Lock()
        self._con: sqlite3.Connection | None = None
        self._version: int | None = None
        self._refs: dict[tuple[str, str, str | None], tuple[Any, Path]] = {}
        database = hub.db.engine.url.database if hub.db.is_sqlite else None
        if database and database != ":memory:":
            self._con = sqlite3.connect(database, check_same_thread=False, isolation_level=None)

    def version(self) -> int | None:
        if self._con is None:
            return None
        with self._lock:
            version = self._con.execute("PRAGMA data_version").fetchone()[0]
            if version != self._version:
                self._refs.clear()
                self._version = version
            return version

    def get(self, key: tuple[str, str, str | None]) -> tuple[Any, Path] | None:
        if self._con is None:
            return None
        self.version()
        return self._refs.get(key)

    def put(self, key: tuple[str, str, str | None], version: int | None, ref: RepoRef) -> None:
        """Remember a lookup made after `version()` returned `version` (so it is no older than that)."""
        if version is None:
            return
        with self._lock:
            if version == self._version:
                if len(self._refs) >= self.MAX:
                    self._refs.clear()
                self._refs[key] = (ref.row, ref.path)


def lookup_cache(request: Request) -> _LookupCache:
    """The app's cache of (repo type, id, token hash) -> repository row, valid until the database changes;
    shared by /resolve and the Inference API, the two paths that must answer without a threadpool hop."""
    state = request.app.state
    cache = getattr(state, "resolve_lookup_cache", None)
    if cache is None:
        cache = state.resolve_lookup_cache = _LookupCache(state.hub)
    return cache


INLINE_BLOB = 256 * 1024  # larger git blobs are read and inflated off the event loop


def _resolve_endpoint(repo_type: str):  # type: ignore[no-untyped-def]
    """The /resolve handler. No FastAPI dependencies or parameter models: each sync dependency costs a
    threadpool round trip, and HEAD on /resolve is the most frequent request there is. A caller and a
    repository already known (see _LookupCache) are answered on the event loop; anything else takes one
    threadpool round trip."""

    async def endpoint(request: Request) -> Response:
        hub: Hub = request.app.state.hub
        p = request.path_params
        token = credential(request.headers.get("authorization"))
        actor = cached_actor(hub, token)
        key = (repo_type, f"{p['namespace']}/{p['name']}", None if token is None else hash_token(token))
        cache = lookup_cache(request)
        # Mirror mode: every lookup may have to ask the upstream (TTL), so none is answered from the cache.
        hit = cache.get(key) if actor is not None and not mirror_config(hub.settings).enabled else None
        # Gated repositories are answered off the event loop for callers without a role: the gate asks the database.
        if hit is not None and (not hit[0].gated or actor.has_role_on(hit[0])):
            ref = RepoRef(hit[0], open_repo(hit[1]), hit[1])
            if _answer_inline(hub, ref, request.method == "HEAD", p["revision"], p["path"]):
                return resolve(repo_type, p["namespace"], p["name"], p["revision"], p["path"], request, hub, actor, ref)
        return await run_in_threadpool(_resolve_in_thread, repo_type, request, hub, actor, cache, key)

    endpoint.__doc__ = f"Serves hf_hub_download / get_hf_file_metadata / file_exists for {repo_type}s."
    return endpoint


def _answer_inline(hub: Hub, ref: RepoRef, head: bool, revision: str, path: str) -> bool:
    """Whether the answer needs neither the database nor much work: a git blob's HEAD, a small git blob,
    or the redirect to a locally stored LFS object (Xet-stored files look their chunks up: threadpool)."""
    try:
        check_path(path)
        entry = ref.git.entry(resolve_rev(ref, revision), path)
    except Exception:  # errors are answered by the threadpool path, like every other request
        return False
    if entry is None:
        return False
    if entry.pointer is None:
        return head or entry.size <= INLINE_BLOB
    if isinstance(hub.blobs, S3BlobStore):  # asking the object store would block the event loop
        return False
    return hub.blobs.size(entry.pointer.oid) is not None


def _resolve_in_thread(
    repo_type: str, request: Request, hub: Hub, actor: Actor | None, cache: _LookupCache, key: Any
) -> Response:
    p = request.path_params
    if actor is None:
        actor = get_actor(request)
    version = cache.version()
    ref = lookup(hub, actor, repo_type, p["namespace"], p["name"], Permission.READ)
    cache.put(key, version, ref)
    return resolve(repo_type, p["namespace"], p["name"], p["revision"], p["path"], request, hub, actor, ref)


RESOLVE = "{prefix}/{{namespace}}/{{name}}/resolve/{{revision:seg}}/{{path:fpath}}"

for prefix, repo_type in (("/datasets", "dataset"), ("/spaces", "space"), ("", "model")):
    router.add_api_route(
        RESOLVE.format(prefix=prefix), _resolve_endpoint(repo_type), methods=GET_HEAD, name=f"resolve_{repo_type}"
    )


def route_resolve_first(app: FastAPI) -> bool:
    """Let model /resolve requests skip the walk through every route registered before them.

    The routes of the routers included earlier are tried one by one before /resolve (about 60, which
    costs FastAPI some 100-250 us per request). This puts a copy of the model /resolve route first,
    restricted to paths that no earlier route can match: paths whose first segment is not the literal
    first segment of an earlier route. Every earlier route must either begin with a literal segment or
    have a literal third segment other than "resolve" (so cannot match /{a}/{b}/resolve/...); if any
    route is of another shape, or of a kind this does not know, nothing is changed and False returned.
    So every request is answered by the same route as before, only found sooner.
    """
    target = RESOLVE.format(prefix="")
    taken: set[str] = set()
    for path in _paths_in_order(app.router.routes):
        if path is None:
            return False
        if path == target:
            break
        segments = path.lstrip("/").split("/")
        if "{" not in segments[0]:
            taken.add(segments[0])
        elif not (len(segments) >= 3 and "{" not in segments[2] and segments[2] != "resolve"):
            return False
    else:
        return False
    route = APIRoute(
        target, _resolve_endpoint("model"), methods=GET_HEAD, name="resolve_model", include_in_schema=False
    )
    pattern = route.path_regex.pattern
    if not pattern.startswith("^/") or not taken:
        return False
    guard = "|".join(re.escape(t) for t in sorted(taken))
    route.path_regex = re.compile(f"^/(?!(?:{guard})/){pattern[2:]}")
    app.router.routes.insert(0, route)
    return True


def _paths_in_order(routes: list[Any]) -> Iterator[str | None]:
    """The full path of every route, in matching order, descending into included routers (None: unknown kind)."""
    for route in routes:
        inner = getattr(route, "original_router", None)  # FastAPI's record of an include_router()
        if inner is not None:
            context = getattr(route, "include_context", None)
            if getattr(context, "prefix", "") or not isinstance(getattr(inner, "routes", None), list):
                yield None
                return
            yield from _paths_in_order(inner.routes)
        elif isinstance(route, APIRoute | Route):
            yield route.path
        else:
            yield None
            return


@router.api_route("/_blobs/{oid}", methods=GET_HEAD)
async def blob(request: Request) -> Response:
    """The target of an LFS resolve redirect: the object's bytes, with the same metadata headers.

    Runs on the event loop: a signature check and two stat calls, no database."""
    oid = request.path_params["oid"]
    hub = request.app.state.hub
    fields = request.app.state.signer.verify("blob", dict(request.query_params), ("oid", "commit", "name"))
    if fields["oid"] != oid or not OID_RE.match(oid):
        raise NotFound("Not found")
    if isinstance(hub.blobs, S3BlobStore):  # an object store serves it: send the client there
        size = await run_in_threadpool(hub.blobs.size, oid)
        if size is not None:
            location = blob_location(request, hub, oid, fields["commit"], fields["name"])
            headers = {**blob_headers(oid, size, fields), "Location": location, "Content-Length": "0"}
            return Response(status_code=302, headers=headers)
    path = hub.blobs.local_path(oid)
    size = hub.blobs.size(oid) if path is not None else None
    xet_info = None
    if path is None or size is None:
        xet_info = await run_in_threadpool(cas.file_by_sha256, hub, oid)
        if xet_info is None:
            raise NotFound("The object's bytes are missing from storage")
        size = xet_info.size
    headers = blob_headers(oid, size, fields)
    if xet_info is not None:
        return xet_body(hub, xet_info, headers, request.headers.get("range"), request.method == "HEAD")
    byte_range = parse_range(request.headers.get("range"), size)
    return FileBody(path, size, headers, byte_range, request.method == "HEAD")


def _blob_base(request: Request) -> str:
    """Where LFS bytes are served: the zero-copy blob server when it runs, else this server (same origin)."""
    settings = request.app.state.hub.settings
    if settings.blob_url:
        return settings.blob_url.rstrip("/")
    if settings.blob_port > 0:
        host = (request.headers.get("host") or "127.0.0.1").rsplit(":", 1)[0]
        return f"{request.url.scheme}://{host}:{settings.blob_port}"
    return ""
