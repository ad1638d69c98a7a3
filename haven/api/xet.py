"""Xet: the hub's token endpoints and the CAS API (mounted under /_xet) that hf_xet speaks."""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from haven.api.common import check_gate, lookup
from haven.api.deps import ActorDep, HubDep
from haven.api.errors import base_url
from haven.api.files import _blob_base
from haven.api.responses import JSON, FileBody, parse_range
from haven.api.upload import read_body
from haven.auth.permissions import Permission
from haven.cas import service as cas
from haven.cas import tokens
from haven.cas.layout import ChunkLayout, FileTerm
from haven.errors import BadRequest, Forbidden, HavenError, NotFound, RangeNotSatisfiable
from haven.hub import Hub
from haven.storage.s3 import S3BlobStore
from haven.xet.constants import SHARD_MAX_SIZE, XORB_MAX_SIZE
from haven.xet.shard import zero_unsent_footer

router = APIRouter()
CAS = "/_xet"
PREFIX = "/api/{repo_type:rtype}/{namespace}/{name}"


def cas_url(request: Request) -> str:
    return base_url(request) + CAS


def xorb_base(request: Request) -> str:
    """Where the signed xorb ranges are fetched: the sendfile blob server when it runs (its /_xet/xorbs
    answers them as `xorb_bytes` does, without copying the bytes through Python), else this server."""
    blobs = _blob_base(request)
    return blobs + CAS if blobs else cas_url(request)


def _key(request: Request) -> bytes:
    return request.app.state.signer.key


def _token_response(request: Request, hub: Hub, repo_id: int, scope: str) -> JSON:
    token, exp = tokens.issue(_key(request), repo_id, scope)
    url = cas_url(request)
    headers = {"X-Xet-Cas-Url": url, "X-Xet-Access-Token": token, "X-Xet-Token-Expiration": str(exp)}
    return JSON({"casUrl": url, "accessToken": token, "exp": exp}, headers=headers)


@router.get(PREFIX + "/xet-read-token/{revision:seg}")
def xet_read_token(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves hf_xet downloads: a CAS token that may read this repository's files."""
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    check_gate(hub, ref, actor)
    return _token_response(request, hub, ref.row.id, "read")


@router.get(PREFIX + "/xet-write-token/{revision:seg}")
def xet_write_token(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves hf_xet uploads (upload_file, upload_folder, push_to_hub): a CAS token that may add files.
    Uploads for pull requests (create_pr, whose revision is the literal `None`, or refs/pr/N) need only
    read access, as the commits that follow them do."""
    for_pr = request.query_params.get("create_pr") in ("1", "true") or revision.startswith("refs/pr/")
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.CONTRIBUTE if for_pr else Permission.WRITE)
    return _token_response(request, hub, ref.row.id, "write")


def _grant(request: Request, scope: str) -> tokens.CasGrant:
    grant = tokens.verify(_key(request), request.headers.get("authorization"))
    grant.require(scope)
    return grant


# --- uploads -----------------------------------------------------------------------------------


# hf_xet up to 1.2 calls the CAS routes without the /v1 (xorbs, shards, reconstructions, chunks); 1.3 and 1.4
# still post shards to the bare /shards. Each such route answers on both paths.
@router.api_route(CAS + "/v1/xorbs/{prefix}/{xorb}", methods=["HEAD"])
@router.api_route(CAS + "/xorbs/{prefix}/{xorb}", methods=["HEAD"])
def head_xorb(prefix: str, xorb: str, request: Request, hub: HubDep) -> Response:
    _grant(request, "read")
    size = cas.xorb_size(hub, xorb)
    if size is None:
        raise NotFound("Xorb not found")
    return Response(headers={"Content-Length": str(size)})


@contextmanager
def _closing_unless_read() -> Iterator[None]:
    """Refusals raised before the body is read close the connection (Connection: close): the server drops a
    connection whose request body was left unread, and a client that reused it would see it fail."""
    try:
        yield
    except HavenError as e:
        e.headers.setdefault("Connection", "close")
        raise


@router.post(CAS + "/v1/xorbs/{prefix}/{xorb}")
@router.post(CAS + "/xorbs/{prefix}/{xorb}")
async def upload_xorb(prefix: str, xorb: str, request: Request, hub: HubDep) -> JSON:
    """Stores a xorb after checking every chunk against its hash."""
    with _closing_unless_read():
        _grant(request, "write")
        if prefix != "default":
            raise BadRequest("The xorb prefix must be 'default'")
        data = await read_body(request, XORB_MAX_SIZE)
    inserted = await run_in_threadpool(cas.store_xorb, hub, xorb, data)
    return JSON({"was_inserted": inserted})


async def _register(request: Request, hub: Hub) -> int:
    with _closing_unless_read():
        grant = _grant(request, "write")
        data = await read_body(request, SHARD_MAX_SIZE)
    return await run_in_threadpool(cas.register_shard, hub, grant, zero_unsent_footer(data))


@router.post(CAS + "/v1/shards")
@router.post(CAS + "/shards")
async def upload_shard(request: Request, hub: HubDep) -> JSON:
    """Registers the files a shard describes (they become referable by sha256 in commits)."""
    return JSON({"result": await _register(request, hub)})


@router.post(CAS + "/v2/shards")
async def upload_shard_v2(request: Request, hub: HubDep) -> Response:
    """As /v1/shards, answered as the NDJSON progress stream the v2 API defines (verification runs first,
    so an invalid shard still gets a plain 400)."""
    result = await _register(request, hub)
    events = [
        {"type": "validating", "verified": 1, "total": 1},
        {"type": "committing", "stage": "syncing"},
        {"type": "result", "result": result},
    ]
    body = b"".join(orjson.dumps(e) + b"\n" for e in events)
    return Response(body, media_type="application/x-ndjson", headers={"Cache-Control": "no-cache"})


@router.post(CAS + "/v1/xorb-grants/{prefix}/{xorb}")
def xorb_grant(prefix: str, xorb: str) -> Response:
    """Direct-to-storage xorb grants are not offered: the client then uploads to /v1/xorbs."""
    raise NotFound("Xorb grants are not supported; upload the xorb directly")


@router.post("/v1/telemetry")
@router.post(CAS + "/v1/telemetry")
def telemetry() -> JSON:
    return JSON({})


# --- downloads ---------------------------------------------------------------------------------


@router.get(CAS + "/v2/reconstructions/{file_id}")
def reconstruction_v2(file_id: str, request: Request, hub: HubDep) -> JSON:
    """Where each byte range of a file lives: terms, and signed xorb byte-range URLs."""
    offset, terms, known = _plan(request, hub, file_id)
    xorbs: dict[str, list[dict[str, Any]]] = {}
    for url, xorb, term, first, last in _fetches(request, terms, known):
        xorbs.setdefault(xorb, []).append(
            {
                "url": url,
                "ranges": [{"chunks": {"start": term.start, "end": term.end}, "bytes": {"start": first, "end": last}}],
            }
        )
    return JSON({"offset_into_first_range": offset, "terms": [_term(t) for t in terms], "xorbs": xorbs})


@router.get(CAS + "/v1/reconstructions/{file_id}")
@router.get(CAS + "/reconstructions/{file_id}")
def reconstruction_v1(file_id: str, request: Request, hub: HubDep) -> JSON:
    """The deprecated v1 shape, for clients that fall back to it."""
    offset, terms, known = _plan(request, hub, file_id)
    return JSON(
        {
            "offset_into_first_range": offset,
            "terms": [_term(t) for t in terms],
            "fetch_info": _fetch_info(request, terms, known),
        }
    )


@router.post(CAS + "/v1/reconstructions")
async def batch_reconstruction(request: Request, hub: HubDep) -> JSON:
    """Reconstructions of several files at once (v1 shapes)."""
    try:
        keys = orjson.loads(await read_body(request, 1_000_000))
        ids = sorted({str(k["hash"]) for k in keys})
    except (ValueError, KeyError, TypeError):
        raise BadRequest("Body must be a JSON list of {prefix, hash}") from None

    def build() -> dict[str, Any]:
        files, fetch_info = {}, {}
        for file_id in ids:
            _, terms, known = _plan(request, hub, file_id, whole=True)
            files[file_id] = [_term(t) for t in terms]
            for xorb, items in _fetch_info(request, terms, known).items():
                fetch_info.setdefault(xorb, []).extend(items)
        return {"files": files, "fetch_info": fetch_info}

    return JSON(await run_in_threadpool(build))


@router.api_route(CAS + "/v1/files/{file_id}", methods=["HEAD"])
def head_file(file_id: str, request: Request, hub: HubDep) -> Response:
    grant = _grant(request, "read")
    info = cas.readable_file(hub, grant, file_id)
    return Response(headers={"Content-Length": str(info.size)})


@router.get(CAS + "/v1/chunks/{prefix}/{chunk}")
@router.get(CAS + "/chunks/{prefix}/{chunk}")
def dedup_query(prefix: str, chunk: str, request: Request, hub: HubDep) -> Response:
    """Global dedup: a shard describing the xorb holding this chunk, its chunk hashes HMAC-protected."""
    _grant(request, "read")
    if prefix not in ("default", "default-merkledb"):
        raise BadRequest("Unknown dedup prefix")
    key = hmac.new(_key(request), b"xet-dedup", hashlib.sha256).digest()
    return Response(cas.dedup_shard(hub, chunk, key), media_type="application/octet-stream")


@router.api_route(CAS + "/xorbs/{xorb}", methods=["GET", "HEAD"])
async def xorb_bytes(xorb: str, request: Request) -> Response:
    """Byte ranges of a stored xorb, as authorised by a signed URL from a reconstruction. On the event loop:
    a signature check and a stat (reconstructions point at the blob server instead when it runs)."""
    hub: Hub = request.app.state.hub
    fields = request.app.state.signer.verify("xorb", dict(request.query_params), ("xorb", "range"))
    if fields["xorb"] != xorb:
        raise Forbidden("Invalid signature")
    lo, hi = (int(x) for x in fields["range"].split("-"))
    if isinstance(hub.xorbs, S3BlobStore):  # a URL signed before the move to object storage
        return Response(status_code=302, headers={"Location": hub.xorbs.download_url(xorb), "Content-Length": "0"})
    try:  # no database: the signature says the xorb was stored and verified, and xorbs never change
        size = os.stat(hub.xorbs.path(xorb)).st_size
    except FileNotFoundError:
        raise NotFound("Xorb not found") from None
    wanted = parse_range(request.headers.get("range"), size) or (lo, hi)
    if wanted[0] < lo or wanted[1] > hi:
        raise RangeNotSatisfiable("The requested range is outside the signed range")
    return FileBody(
        hub.xorbs.path(xorb), size, {"Content-Type": "application/octet-stream"}, wanted, request.method == "HEAD"
    )


def _plan(
    request: Request, hub: Hub, file_id: str, whole: bool = False
) -> tuple[int, list[FileTerm], dict[str, ChunkLayout]]:
    grant = _grant(request, "read")
    info = cas.readable_file(hub, grant, file_id)
    byte_range = None if whole else parse_range(request.headers.get("range"), max(info.size, 1))
    return cas.plan(hub, info, byte_range)


def _term(t: FileTerm) -> dict[str, Any]:
    return {"hash": t.xorb, "unpacked_length": t.length, "range": {"start": t.start, "end": t.end}}


def _fetches(request: Request, terms: list[FileTerm], known: dict[str, ChunkLayout]):  # type: ignore[no-untyped-def]
    """(signed url, xorb, term, first byte, last byte) per term."""
    base, signer = xorb_base(request), request.app.state.signer
    store = request.app.state.hub.xorbs
    direct: dict[str, str] = {}
    for t in terms:
        first, last = known[t.xorb].span(t.start, t.end)
        if isinstance(store, S3BlobStore):  # presigned GETs of the xorb: clients send the Range themselves
            if t.xorb not in direct:
                direct[t.xorb] = store.download_url(t.xorb)
            yield direct[t.xorb], t.xorb, t, first, last
            continue
        query = signer.sign("xorb", xorb=t.xorb, range=f"{first}-{last}")
        yield f"{base}/xorbs/{t.xorb}?{query}", t.xorb, t, first, last


def _fetch_info(
    request: Request, terms: list[FileTerm], known: dict[str, ChunkLayout]
) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for url, xorb, t, first, last in _fetches(request, terms, known):
        out.setdefault(xorb, []).append(
            {"range": {"start": t.start, "end": t.end}, "url": url, "url_range": {"start": first, "end": last}}
        )
    return out
