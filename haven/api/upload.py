"""Uploads: validate-yaml, preupload (which files go through LFS) and the ndjson commit endpoint."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson
from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from haven.api.common import lookup, repo_url
from haven.api.deps import ActorDep, HubDep
from haven.api.errors import error_response
from haven.api.responses import JSON
from haven.auth.permissions import Actor, Permission
from haven.discussions import pulls
from haven.errors import BadRequest, PayloadTooLarge
from haven.git.lfs import parse_gitattributes
from haven.hub import Hub
from haven.names import check_path
from haven.repos.card import CardError, parse_card
from haven.repos.commits import AddFile, AddLfsFile, CommitRequest, Operation, RemoveFile, RemoveFolder, create_commit

router = APIRouter()
PREFIX = "/api/{repo_type:rtype}/{namespace}/{name}"
MAX_PREUPLOAD_FILES = 1000


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refusing more than `limit` bytes before reading them all."""
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body larger than {limit} bytes")
    chunks, total = [], 0
    async for chunk in request.stream():
        total += len(chunk)
        if total > limit:
            raise PayloadTooLarge(f"Request body larger than {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


@router.post("/api/validate-yaml")
async def validate_yaml(request: Request) -> Any:
    """Serves the README check before commits and RepoCard.validate (always answers JSON)."""
    raw = await read_body(request, 10_000_000)
    try:
        body = orjson.loads(raw)
        content = body["content"]
        if not isinstance(content, str):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        return error_response(400, "Body must be JSON with a 'content' string", errors=[{"message": "bad body"}])
    try:
        parse_card(content)
    except CardError as e:
        return error_response(400, str(e), errors=[{"message": str(e)}], warnings=[])
    return JSON({"errors": [], "warnings": []})


@router.post(PREFIX + "/preupload/{revision:seg}")
async def preupload(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves the preupload step of every upload: LFS for large or .gitattributes-matched files."""
    try:
        body = orjson.loads(await read_body(request, 50_000_000))
        files = body["files"]
        if not isinstance(files, list):
            raise TypeError
    except (ValueError, KeyError, TypeError):
        raise BadRequest("Body must be JSON with a 'files' list") from None
    if len(files) > MAX_PREUPLOAD_FILES:
        raise PayloadTooLarge(f"At most {MAX_PREUPLOAD_FILES} files per preupload call")
    # Pull requests take commits from contributors (anyone signed in, on a public repository).
    perm = Permission.CONTRIBUTE if _create_pr(request) or pulls.pr_number(revision) else Permission.WRITE
    result = await run_in_threadpool(_preupload, hub, actor, repo_type, namespace, name, revision, files, perm)
    return JSON({"files": result, "commitOid": None})


def _preupload(
    hub: Hub, actor: Actor, repo_type: str, namespace: str, name: str, revision: str, files: list[Any], perm: Permission
) -> list[dict[str, Any]]:
    ref = lookup(hub, actor, repo_type, namespace, name, perm)
    commit = ref.git.resolve(revision) if revision not in ("None",) else None
    attrs = ""
    if commit is not None:
        entry = ref.git.entry(commit, ".gitattributes")
        if entry is not None and entry.type == "file" and entry.pointer is None:
            attrs = ref.git.read_blob(entry.oid).decode("utf-8", "replace")
    rules = parse_gitattributes(attrs)
    out = []
    for f in files:
        if not isinstance(f, dict) or not isinstance(f.get("path"), str):
            raise BadRequest("Each file needs a 'path'")
        path = check_path(f["path"])
        size = f.get("size") if isinstance(f.get("size"), int) else 0
        lfs = size >= hub.settings.lfs_threshold or (size > 0 and rules.matches(path))
        oid = None
        if commit is not None:
            existing = ref.git.entry(commit, path)
            if existing is not None and existing.type == "file":
                oid = existing.pointer.oid if existing.pointer else existing.oid
        out.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False, "oid": oid})
    return out


@router.post(PREFIX + "/commit/{revision:seg}")
async def commit(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves create_commit / upload_file / upload_folder / delete_file(s) / delete_folder."""
    raw = await read_body(request, hub.settings.max_request_body)
    req = await run_in_threadpool(parse_ndjson, raw)
    repo, pr_num = f"{namespace}/{name}", pulls.pr_number(revision)
    extra = {}
    if _create_pr(request):
        oid, ref, num = await run_in_threadpool(
            pulls.commit_as_pull_request, hub, actor, repo_type, repo, revision, req
        )
        extra["pullRequestUrl"] = f"{repo_url(request, ref.type, ref.full_id)}/discussions/{num}"
    elif pr_num is not None:
        oid, ref = await run_in_threadpool(pulls.commit_to_pull_request, hub, actor, repo_type, repo, pr_num, req)
    else:
        oid, ref = await run_in_threadpool(create_commit, hub, actor, repo_type, repo, revision, req)
    url = repo_url(request, ref.type, ref.full_id)
    return JSON({"success": True, "commitOid": oid, "commitUrl": f"{url}/commit/{oid}", "hookOutput": ""} | extra)


def _create_pr(request: Request) -> bool:
    return request.query_params.get("create_pr") in ("1", "true")


def parse_ndjson(raw: bytes) -> CommitRequest:
    """The commit body: a header line, then one line per operation."""
    lines = [line for line in raw.split(b"\n") if line.strip()]
    if not lines:
        raise BadRequest("Empty commit body")
    req: CommitRequest | None = None
    ops: list[Operation] = []
    for n, line in enumerate(lines, 1):
        try:
            item = orjson.loads(line)
            key, value = item["key"], item["value"]
            if not isinstance(value, dict):
                raise TypeError
        except (ValueError, KeyError, TypeError):
            raise BadRequest(f"Line {n} of the commit body is not a {{key, value}} JSON object") from None
        if key == "header":
            req = CommitRequest(
                summary=str(value.get("summary") or ""),
                description=str(value.get("description") or ""),
                parent_commit=value.get("parentCommit") or None,
            )
        elif key in ("file", "lfsFile", "deletedFile", "deletedFolder"):
            ops.append(_operation(key, value, n))
        else:
            raise BadRequest(f"Line {n}: unknown operation {key!r}")
    if req is None:
        raise BadRequest("The commit body has no header line")
    req.operations = ops
    return req


def _operation(key: str, value: dict[str, Any], n: int) -> Operation:
    path = value.get("path")
    if not isinstance(path, str):
        raise BadRequest(f"Line {n}: 'path' is required")
    if key == "deletedFolder":
        return RemoveFolder(check_path(path.rstrip("/")))  # "dir/" names a folder; "/dir" is absolute
    check_path(path)
    if key == "deletedFile":
        return RemoveFile(path)
    if key == "lfsFile":
        oid, size = value.get("oid"), value.get("size")
        if value.get("algo", "sha256") != "sha256" or not isinstance(oid, str):
            raise BadRequest(f"Line {n}: lfsFile needs a sha256 'oid'")
        if size is not None and (not isinstance(size, int) or size < 0):
            raise BadRequest(f"Line {n}: lfsFile 'size' must be a non-negative integer")
        return AddLfsFile(path, oid.lower(), size)
    if value.get("encoding", "base64") != "base64" or not isinstance(value.get("content"), str):
        raise BadRequest(f"Line {n}: file content must be base64")
    try:
        content = base64.b64decode(value["content"], validate=True)
    except binascii.Error:
        raise BadRequest(f"Line {n}: invalid base64 content") from None
    return AddFile(path, content)
