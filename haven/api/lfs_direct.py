"""LFS transfers straight to object storage: batch actions that are presigned S3 URLs, and the two calls
(verify, multipart completion) through which Haven checks an upload before it becomes an object.

The client PUTs to a temporary key (one PUT, or S3 multipart parts in huggingface_hub's multipart
transfer); Haven's signed verify or completion URL names that key, so Haven hashes exactly what the client
sent and only then copies it to its content address and links it to the repository.
"""

from __future__ import annotations

import math
from typing import Any

import orjson

from haven.errors import BadRequest, NotFound
from haven.hub import Hub
from haven.repos import lfs as lfs_service
from haven.storage.base import BlobMismatch
from haven.storage.s3 import MAX_PARTS, MIN_PART, S3BlobStore


def part_size(configured: int, size: int) -> int:
    """The multipart chunk size: the configured one, within S3's limits (5 MiB parts, 10,000 parts)."""
    return max(configured, MIN_PART, math.ceil(size / MAX_PARTS))


def upload_actions(
    store: S3BlobStore, signer: Any, base: str, repo_id: int, oid: str, size: int, chunk: int, multipart: bool
) -> dict[str, Any]:
    """Batch `actions` for one object: a presigned PUT (or presigned part URLs and a completion URL on
    Haven), and the verify URL that checks the upload and links it."""
    token = store.new_upload()
    fields = {"repo": str(repo_id), "oid": oid, "size": str(size), "token": token}
    verify = {"href": f"{base}/_lfs/verify?{signer.sign('verify', **fields)}", "header": {}}
    chunk = part_size(chunk, size)
    if size <= chunk or not multipart:
        return {"upload": {"href": store.upload_url(token), "header": {}}, "verify": verify}
    upload_id = store.start_multipart(token)
    header: dict[str, str] = {"chunk_size": str(chunk)}
    for n in range(1, math.ceil(size / chunk) + 1):
        header[str(n)] = store.part_url(token, upload_id, n)
    complete = f"{base}/_lfs/complete?{signer.sign('complete', **fields, upload=upload_id)}"
    return {"upload": {"href": complete, "header": header}, "verify": verify}


def verify(hub: Hub, store: S3BlobStore, repo_id: int, oid: str, size: int, token: str) -> None:
    """Check the upload of `token` and link its object; a no-op once the object is linked (the verify that
    follows a multipart completion, or a retry)."""
    if lfs_service.linked(hub, repo_id, [oid]).get(oid) == size:
        return
    _promote(store, token, oid, size)
    lfs_service.link(hub, repo_id, oid, size)


def complete(hub: Hub, store: S3BlobStore, f: dict[str, str], body: bytes) -> None:
    """Finish the S3 multipart upload from the client's part list, then verify and link as `verify` does."""
    repo_id, oid, size = int(f["repo"]), f["oid"], int(f["size"])
    if lfs_service.linked(hub, repo_id, [oid]).get(oid) == size:
        return
    parts = _parts(body)
    try:
        store.complete_multipart(f["token"], f["upload"], parts)
    except FileNotFoundError:
        raise NotFound("No multipart upload is in progress for this object") from None
    except ValueError as e:
        raise BadRequest(f"The object store refused the part list: {e}") from None
    _promote(store, f["token"], oid, size)
    lfs_service.link(hub, repo_id, oid, size)


def _promote(store: S3BlobStore, token: str, oid: str, size: int) -> None:
    try:
        store.promote(token, oid, size)
    except FileNotFoundError:
        raise NotFound(f"Object {oid} was not received") from None
    except BlobMismatch as e:
        raise BadRequest(str(e)) from None


def _parts(body: bytes) -> list[tuple[int, str]]:
    """(part number, ETag) pairs from huggingface_hub's completion payload {"oid", "parts": [...]}."""
    try:
        parts = [(int(p["partNumber"]), str(p["etag"])) for p in orjson.loads(body)["parts"]]
    except (ValueError, KeyError, TypeError):
        raise BadRequest("Body must be {'oid': ..., 'parts': [{'partNumber': n, 'etag': ...}]}") from None
    if not parts or any(n < 1 or n > MAX_PARTS for n, _ in parts):
        raise BadRequest(f"Part numbers must be between 1 and {MAX_PARTS}")
    return parts
