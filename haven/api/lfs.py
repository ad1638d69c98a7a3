"""The Git LFS API: batch, basic and multipart transfers, verify. Bytes are hashed as they arrive."""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from haven.api import lfs_direct
from haven.api.common import check_gate, lookup
from haven.api.deps import ActorDep, HubDep
from haven.api.errors import base_url
from haven.api.limits import DRAIN
from haven.api.responses import JSON
from haven.api.upload import read_body
from haven.auth.permissions import Permission
from haven.cas import service as cas
from haven.cas import tokens as cas_tokens
from haven.errors import BadRequest, Conflict, NotFound, PayloadTooLarge, RepoNotFound, Unauthorized
from haven.hub import Hub
from haven.repos import lfs as lfs_service
from haven.storage.base import BlobMismatch
from haven.storage.local import OID_RE, UploadInProgress
from haven.storage.s3 import S3BlobStore

router = APIRouter()
LFS_JSON = "application/vnd.git-lfs+json"
MAX_BATCH = 1000
_PART = re.compile(r"^\d{1,5}$")


def _lfs_json(content: Any, status: int = 200) -> JSON:
    return JSON(content, status_code=status, headers={"Content-Type": LFS_JSON})


async def batch(repo_type: str, namespace: str, name: str, request: Request, hub: Hub, actor: Any) -> JSON:
    try:
        body = orjson.loads(await read_body(request, 10_000_000))
        operation, objects = body["operation"], body["objects"]
        if operation not in ("upload", "download") or not isinstance(objects, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise BadRequest("Body must be an LFS batch request with 'operation' and 'objects'") from None
    if len(objects) > MAX_BATCH:
        raise PayloadTooLarge(f"At most {MAX_BATCH} objects per batch")
    perm = Permission.READ
    if operation == "upload":
        perm = Permission.CONTRIBUTE if _for_pull_request(body, actor) else Permission.WRITE
    if actor.anonymous and perm is not Permission.READ:
        raise Unauthorized("Authentication required to upload", headers={"LFS-Authenticate": 'Basic realm="Haven"'})
    try:
        ref = await run_in_threadpool(lookup, hub, actor, repo_type, namespace, name, perm)
    except RepoNotFound:
        # Maybe private: git-lfs asks its credential helper only after a 401 and gives up on a 404 (a clone
        # whose credentials came from a helper). Other clients keep the plain 404 of a hidden repository.
        if actor.anonymous and request.headers.get("user-agent", "").startswith("git-lfs/"):
            raise Unauthorized("Authentication required", headers={"LFS-Authenticate": 'Basic realm="Haven"'}) from None
        raise
    if operation == "download":  # the signed links below serve the bytes: a gated repository's need approval
        await run_in_threadpool(check_gate, hub, ref, actor)
    valid = [o for o in objects if isinstance(o, dict) and _valid_object(o)]
    have = await run_in_threadpool(lfs_service.linked, hub, ref.row.id, [o["oid"] for o in valid])
    base = base_url(request)
    signer = request.app.state.signer
    # A client offering the "xet" transfer (git-xet) uploads through the CAS: it gets a write token for it.
    use_xet = operation == "upload" and "xet" in (body.get("transfers") or [])
    # Parts only for clients that speak huggingface_hub's multipart transfer; git-lfs sends one PUT.
    multipart = "multipart" in (body.get("transfers") or [])
    xet_action: dict[str, Any] = {}
    if use_xet:
        token, exp = cas_tokens.issue(signer.key, ref.row.id, "write")
        xet_action = {
            "href": f"{base}/api/{repo_type}s/{ref.full_id}/xet-write-token/{(body.get('ref') or {}).get('name', 'main')}",
            "header": {
                "X-Xet-Cas-Url": f"{base}/_xet",
                "X-Xet-Access-Token": token,
                "X-Xet-Token-Expiration": str(exp),
            },
        }
    actions = (
        {}
        if use_xet
        else await run_in_threadpool(_all_actions, hub, signer, base, ref.row.id, operation, valid, have, multipart)
    )
    out = []
    for obj in objects:
        if not isinstance(obj, dict) or not _valid_object(obj):
            out.append(
                {
                    "oid": str(obj.get("oid", "")) if isinstance(obj, dict) else "",
                    "size": 0,
                    "error": {
                        "code": 422,
                        "message": "oid must be a sha256 hex digest and size a non-negative integer",
                    },
                }
            )
            continue
        oid, size = obj["oid"], obj["size"]
        item: dict[str, Any] = {"oid": oid, "size": size, "authenticated": True}
        if operation == "download":
            if have.get(oid) != size:
                item["error"] = {"code": 404, "message": "Object does not exist"}
            else:
                item["actions"] = actions[oid, size]
        elif size > hub.settings.max_lfs_object:
            item["error"] = {
                "code": 422,
                "message": f"Objects larger than {hub.settings.max_lfs_object} bytes are refused",
            }
        elif have.get(oid) != size:
            if use_xet:
                item["actions"] = {"upload": xet_action}
            else:
                item["actions"] = actions[oid, size]
        out.append(item)
    return _lfs_json({"transfer": "xet" if use_xet else "basic", "objects": out, "hash_algo": "sha256"})


def _all_actions(
    hub: Hub,
    signer: Any,
    base: str,
    repo_id: int,
    operation: str,
    objects: list[dict[str, Any]],
    have: dict[str, int],
    multipart: bool,
) -> dict[tuple[str, int], dict[str, Any]]:
    """(oid, size) -> transfer actions, for the objects that get some (in a thread: object storage may be
    asked)."""
    store = hub.blobs if isinstance(hub.blobs, S3BlobStore) else None
    out: dict[tuple[str, int], dict[str, Any]] = {}
    if operation == "download":
        wanted = [o["oid"] for o in objects if have.get(o["oid"]) == o["size"]]
        rebuilt = cas.xet_hashes(hub, wanted) if store is not None else {}
        for oid in wanted:
            if store is not None and oid not in rebuilt:
                href = store.download_url(oid)
            else:  # Haven's own signed URL: the sendfile server, or bytes rebuilt from Xet chunks
                href = f"{base}/_blobs/{oid}?{signer.sign('blob', oid=oid, commit='', name=oid)}"
            out[oid, have[oid]] = {"download": {"href": href, "expires_in": signer.ttl}}
        return out
    for o in objects:
        oid, size = o["oid"], o["size"]
        if have.get(oid) == size or size > hub.settings.max_lfs_object:
            continue
        chunk = hub.settings.multipart_chunk_size
        if store is not None:
            out[oid, size] = lfs_direct.upload_actions(store, signer, base, repo_id, oid, size, chunk, multipart)
        else:
            out[oid, size] = _upload_actions(hub, signer, base, repo_id, oid, size, multipart)
    return out


def _for_pull_request(body: dict[str, Any], actor: Any) -> bool:
    """Uploads that name a pull request's ref (refs/pr/N) need only the right to contribute, as commits to
    pull requests do. A batch without a ref still needs write access: it may be for any branch."""
    ref = body.get("ref")
    name = ref.get("name") if isinstance(ref, dict) else None
    return not actor.anonymous and isinstance(name, str) and name.startswith("refs/pr/")


def _valid_object(obj: dict[str, Any]) -> bool:
    oid, size = obj.get("oid"), obj.get("size")
    return isinstance(oid, str) and bool(OID_RE.match(oid)) and isinstance(size, int) and size >= 0


def _upload_actions(
    hub: Hub, signer: Any, base: str, repo_id: int, oid: str, size: int, multipart: bool = True
) -> dict[str, Any]:
    fields = {"repo": str(repo_id), "oid": oid, "size": str(size)}
    verify = {"href": f"{base}/_lfs/verify?{signer.sign('verify', **fields)}", "header": {}}
    chunk = hub.settings.multipart_chunk_size
    if size <= chunk or not multipart:
        return {
            "upload": {"href": f"{base}/_lfs/upload?{signer.sign('upload', **fields)}", "header": {}},
            "verify": verify,
        }
    parts = math.ceil(size / chunk)
    header: dict[str, str] = {"chunk_size": str(chunk)}
    for n in range(1, parts + 1):
        header[str(n)] = f"{base}/_lfs/part?{signer.sign('part', **fields, part=str(n))}"
    complete = f"{base}/_lfs/complete?{signer.sign('complete', **fields)}"
    return {"upload": {"href": complete, "header": header}, "verify": verify}


for prefix, repo_type in (("/datasets", "dataset"), ("/spaces", "space"), ("", "model")):

    async def _batch(
        namespace: str, name: str, request: Request, hub: HubDep, actor: ActorDep, _t: str = repo_type
    ) -> JSON:
        return await batch(_t, namespace, name, request, hub, actor)

    _batch.__doc__ = f"Git LFS batch API for {repo_type}s (huggingface_hub with HF_HUB_DISABLE_XET, git-lfs)."
    router.add_api_route(f"{prefix}/{{namespace}}/{{name}}.git/info/lfs/objects/batch", _batch, methods=["POST"])


def _fields(request: Request, purpose: str, extra: tuple[str, ...] = ()) -> tuple[int, str, int, dict[str, str]]:
    f = request.app.state.signer.verify(purpose, dict(request.query_params), ("repo", "oid", "size", *extra))
    return int(f["repo"]), f["oid"], int(f["size"]), f


@router.put("/_lfs/upload")
async def upload(request: Request, hub: HubDep) -> JSON:
    """Basic transfer: the object's bytes in one PUT, hashed and written as they arrive."""
    repo_id, oid, size, _ = _fields(request, "upload")
    writer = await run_in_threadpool(hub.blobs.writer)
    try:
        if not await _receive(request, writer, size):
            raise BadRequest(f"More bytes than the announced size {size}")
        writer.commit(oid, size)
    except BlobMismatch as e:
        raise BadRequest(str(e)) from None
    except BaseException:
        writer.abort()
        raise
    await run_in_threadpool(lfs_service.link, hub, repo_id, oid, size)
    return JSON({})


async def _receive(request: Request, writer: Any, limit: int) -> bool:
    """Write the body into `writer`; False if it holds more than `limit` bytes. The excess is read and dropped
    (up to limits.DRAIN), because clients send the whole body before reading the answer: refused at once,
    they would see a reset connection instead of the 400."""
    over = 0
    async for chunk in request.stream():
        if over or writer.size + len(chunk) > limit:
            over += len(chunk)
            if over > DRAIN:
                break
            continue
        writer.write(chunk)
    return not over


@router.put("/_lfs/part")
async def upload_part(request: Request, hub: HubDep) -> JSON:
    """One part of a multipart transfer; answered with an ETag the completion call echoes back.

    Parts that arrive in order are hashed while they are received, so completion needs no second pass."""
    repo_id, oid, _size, f = _fields(request, "part", ("part",))
    if isinstance(hub.blobs, S3BlobStore):  # parts go straight to the object store there
        raise NotFound("Parts are uploaded to object storage, not to this server")
    limit = hub.settings.multipart_chunk_size
    try:
        writer = hub.blobs.part_writer(f"{repo_id}-{oid}", int(f["part"]), limit)
    except UploadInProgress as e:
        raise Conflict(str(e)) from None
    try:
        if not await _receive(request, writer, limit):
            raise BadRequest("Part larger than the chunk size")
        writer.commit()
    except BaseException:
        writer.abort()
        raise
    return JSON({}, headers={"ETag": f'"{f["part"]}-{writer.size}"'})


@router.post("/_lfs/complete")
async def complete(request: Request, hub: HubDep) -> JSON:
    """Joins the parts in order into the object, verifying size and sha256."""
    if isinstance(hub.blobs, S3BlobStore):  # the parts went to the object store: finish its upload there
        f = request.app.state.signer.verify(
            "complete", dict(request.query_params), ("repo", "oid", "size", "token", "upload")
        )
        await run_in_threadpool(lfs_direct.complete, hub, hub.blobs, f, await read_body(request, 10_000_000))
        return JSON({})
    repo_id, oid, size, _ = _fields(request, "complete")
    await run_in_threadpool(_join_parts, hub, f"{repo_id}-{oid}", oid, size)
    await run_in_threadpool(lfs_service.link, hub, repo_id, oid, size)
    return JSON({})


def _join_parts(hub: Hub, key: str, oid: str, size: int) -> None:
    try:
        hub.blobs.join_parts(key, oid, size)
    except FileNotFoundError:
        raise NotFound("No parts were uploaded for this object") from None
    except BlobMismatch as e:
        raise BadRequest(str(e)) from None
    except UploadInProgress as e:
        raise Conflict(str(e)) from None


@router.post("/_lfs/verify")
def verify(request: Request, hub: HubDep) -> JSON:
    """Confirms the server holds the object with the announced size (with object storage: checks the upload
    to its temporary key first, and links it)."""
    if "token" in request.query_params and isinstance(hub.blobs, S3BlobStore):
        repo_id, oid, size, f = _fields(request, "verify", ("token",))
        lfs_direct.verify(hub, hub.blobs, repo_id, oid, size, f["token"])
        return _lfs_json({"message": "ok"})
    repo_id, oid, size, _ = _fields(request, "verify")
    if lfs_service.linked(hub, repo_id, [oid]).get(oid) != size:
        raise NotFound(f"Object {oid} was not received")
    return _lfs_json({"message": "ok"})
