"""Browsing a repository's git data: tree, paths-info, refs, commit history, branches, tags, squash."""

from __future__ import annotations

from html import escape
from itertools import islice
from typing import Any
from urllib.parse import parse_qs

import orjson
from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict
from starlette.concurrency import run_in_threadpool

from haven.api.common import lookup, next_link, resolve_rev, truthy
from haven.api.deps import ActorDep, HubDep
from haven.api.format import commit_json, last_commit_json, tree_entry
from haven.api.responses import JSON
from haven.auth.permissions import Permission
from haven.cas import service as cas
from haven.errors import BadRequest, EntryNotFound, PayloadTooLarge
from haven.git.store import Entry
from haven.hub import Hub
from haven.names import check_path
from haven.repos import refs as refs_service
from haven.repos.service import RepoRef
from haven.scanning import service as scanning

router = APIRouter()
PREFIX = "/api/{repo_type:rtype}/{namespace}/{name}"
PAGE = 1000
PAGE_EXPANDED = 50
MAX_PATHS = 1000


def _page_params(request: Request) -> tuple[int, int]:
    try:
        cursor = int(request.query_params.get("cursor", "0"))
        limit = int(request.query_params.get("limit", "0"))
    except ValueError:
        raise BadRequest("cursor and limit must be integers") from None
    return max(cursor, 0), limit


def _entries_json(hub: Hub, ref: RepoRef, commit: str, entries: list[Entry], expand: bool) -> list[dict[str, Any]]:
    xet = cas.xet_hashes(hub, sorted({e.pointer.oid for e in entries if e.pointer is not None}))
    if not expand:
        return [tree_entry(e, xet) for e in entries]
    security = scanning.file_statuses(hub, ref.row.id, entries)
    return [_expanded(ref, commit, e, xet, security.get(e.path)) for e in entries]


def _expanded(
    ref: RepoRef, commit: str, entry: Entry, xet: dict[str, str], security: dict[str, Any] | None
) -> dict[str, Any]:
    out = tree_entry(entry, xet)
    last = ref.git.last_commit_for(commit, entry.path)
    if last is not None:
        out["lastCommit"] = last_commit_json(last)
    if security is not None:
        out["securityFileStatus"] = security
    return out


def _tree(
    repo_type: str, namespace: str, name: str, revision: str, path: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    commit = resolve_rev(ref, revision)
    path = path.strip("/")
    if path:
        check_path(path)
        entry = ref.git.entry(commit, path)
        if entry is None or entry.type != "directory":
            raise EntryNotFound(f"Directory not found: {path} at {revision}", headers={"X-Repo-Commit": commit})
    recursive = truthy(request.query_params.get("recursive"))
    expand = truthy(request.query_params.get("expand"))
    start, limit = _page_params(request)
    size = min(limit or PAGE, PAGE_EXPANDED if expand else PAGE)
    entries = list(islice(ref.git.list_tree(commit, path, recursive), start, start + size + 1))
    more = len(entries) > size
    entries = entries[:size]
    body = _entries_json(hub, ref, commit, entries, expand)
    headers = {"Link": next_link(request, cursor=start + size)} if more else {}
    return JSON(body, headers=headers)


@router.get(PREFIX + "/tree/{revision:seg}")
def tree_root(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves list_repo_tree / list_repo_files / snapshot_download's listing (root)."""
    return _tree(repo_type, namespace, name, revision, "", request, hub, actor)


@router.get(PREFIX + "/tree/{revision:seg}/{path:fpath}")
def tree_path(
    repo_type: str, namespace: str, name: str, revision: str, path: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves list_repo_tree(path_in_repo=...), HfFileSystem.ls."""
    return _tree(repo_type, namespace, name, revision, path, request, hub, actor)


@router.post(PREFIX + "/paths-info/{revision:seg}")
async def paths_info(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves get_paths_info (form-encoded `paths`; missing paths are left out)."""
    paths, expand = _paths_request(request.headers.get("content-type", ""), await request.body())
    if len(paths) > MAX_PATHS:
        raise PayloadTooLarge(f"At most {MAX_PATHS} paths per request")
    return await run_in_threadpool(_paths_info, repo_type, namespace, name, revision, paths, expand, hub, actor)


def _paths_request(content_type: str, body: bytes) -> tuple[list[str], bool]:
    """Reads `paths` and `expand` from a JSON or form-encoded body (parsed here: no multipart dependency)."""
    try:
        if content_type.startswith("application/json"):
            data = orjson.loads(body or b"{}")
            paths, expand = data.get("paths", []), data.get("expand", False)
            if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
                raise BadRequest("`paths` must be a list of strings")
            return paths, bool(expand)
        form = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=False)
    except (ValueError, AttributeError, UnicodeDecodeError) as exc:
        raise BadRequest("Malformed paths-info body") from exc
    return form.get("paths", []), truthy(form.get("expand", ["false"])[-1])


def _paths_info(
    repo_type: str,
    namespace: str,
    name: str,
    revision: str,
    paths: list[str],
    expand: bool,
    hub: HubDep,
    actor: ActorDep,
) -> JSON:
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    commit = resolve_rev(ref, revision)
    found = []
    for p in paths:
        p = p.strip("/")
        if not p:
            continue
        check_path(p)
        entry = ref.git.entry(commit, p)
        if entry is not None:
            found.append(entry)
    return JSON(_entries_json(hub, ref, commit, found, expand))


@router.get(PREFIX + "/refs")
def list_refs(repo_type: str, namespace: str, name: str, request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves list_repo_refs (branches, converts and tags always present)."""
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    out: dict[str, list[dict[str, str]]] = {"branches": [], "converts": [], "tags": []}
    prs: list[dict[str, str]] = []
    for refname, target in sorted(ref.git.refs().items()):
        for prefix, bucket in (
            ("refs/heads/", out["branches"]),
            ("refs/tags/", out["tags"]),
            ("refs/convert/", out["converts"]),
            ("refs/pr/", prs),
        ):
            if refname.startswith(prefix):
                bucket.append({"name": refname[len(prefix) :], "ref": refname, "targetCommit": target})
    if truthy(request.query_params.get("include_prs")):
        out["pullRequests"] = prs
    return JSON(out)


@router.get(PREFIX + "/commits/{revision:seg}")
def list_commits(
    repo_type: str, namespace: str, name: str, revision: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves list_repo_commits, newest first, paginated by `p`."""
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.READ)
    commit = resolve_rev(ref, revision)
    try:
        page = max(int(request.query_params.get("p", "0")), 0)
        limit = min(max(int(request.query_params.get("limit", "50")), 1), 1000)
    except ValueError:
        raise BadRequest("p and limit must be integers") from None
    commits = ref.git.log(commit, skip=page * limit, limit=limit + 1)
    more = len(commits) > limit
    formatted = "formatted" in request.query_params.getlist("expand[]") + request.query_params.getlist("expand")
    body = []
    for c in commits[:limit]:
        item = commit_json(c)
        if formatted:
            item["formatted"] = {"title": escape(c.title), "message": escape(c.message)}
        body.append(item)
    headers = {"Link": next_link(request, p=page + 1)} if more else {}
    return JSON(body, headers=headers)


class BranchBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    startingPoint: str | None = None


@router.post(PREFIX + "/branch/{branch:seg}")
async def create_branch(
    repo_type: str, namespace: str, name: str, branch: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves create_branch (409 when it exists)."""
    body = await _json_or_empty(request)
    start = BranchBody.model_validate(body).startingPoint
    ref = await run_in_threadpool(lookup, hub, actor, repo_type, namespace, name, Permission.WRITE)
    await run_in_threadpool(refs_service.create_branch, hub, ref, branch, start)
    return JSON({})


@router.delete(PREFIX + "/branch/{branch:seg}")
def delete_branch(repo_type: str, namespace: str, name: str, branch: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves delete_branch (never the default branch)."""
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.WRITE)
    refs_service.delete_branch(hub, ref, branch)
    return JSON({})


class TagBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    tag: str
    message: str | None = None


@router.post(PREFIX + "/tag/{revision:seg}")
def create_tag(
    repo_type: str, namespace: str, name: str, revision: str, body: TagBody, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves create_tag: the URL names the revision, the body the tag."""
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.WRITE)
    refs_service.create_tag(hub, ref, body.tag, revision, body.message)
    return JSON({})


@router.delete(PREFIX + "/tag/{tag:seg}")
def delete_tag(repo_type: str, namespace: str, name: str, tag: str, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves delete_tag."""
    ref = lookup(hub, actor, repo_type, namespace, name, Permission.WRITE)
    refs_service.delete_tag(hub, ref, tag)
    return JSON({})


class SquashBody(BaseModel):
    model_config = ConfigDict(extra="ignore")
    message: str | None = None


@router.post(PREFIX + "/super-squash/{branch:seg}")
async def super_squash(
    repo_type: str, namespace: str, name: str, branch: str, request: Request, hub: HubDep, actor: ActorDep
) -> JSON:
    """Serves super_squash_history: the branch becomes one commit with its current tree."""
    body = SquashBody.model_validate(await _json_or_empty(request))
    ref = await run_in_threadpool(lookup, hub, actor, repo_type, namespace, name, Permission.WRITE)
    commit = await run_in_threadpool(refs_service.super_squash, hub, actor, ref, branch, body.message)
    return JSON({"commitId": commit})


async def _json_or_empty(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except ValueError:
        raise BadRequest("Body must be JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("Body must be a JSON object")
    return data
