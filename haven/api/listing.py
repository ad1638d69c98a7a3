"""GET /api/models, /api/datasets, /api/spaces: search, filter, sort and cursor pagination."""

from __future__ import annotations

from fastapi import APIRouter, Request

from haven.api.common import next_link, truthy
from haven.api.deps import ActorDep, HubDep
from haven.api.format import repo_summary
from haven.api.repos import siblings
from haven.api.responses import JSON
from haven.errors import BadRequest
from haven.git.store import open_repo
from haven.repos.listing import Query, list_repos
from haven.repos.service import RepoRef

router = APIRouter()


def _listing(repo_type: str, request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    p = request.query_params
    tags = p.getlist("filter") + p.getlist("filter[]")
    for key in ("pipeline_tag", "library", "language", "license"):
        value = p.get(key)
        if value:
            tags.append(value if key in ("pipeline_tag", "library", "language") else f"license:{value}")
    try:
        limit = int(p["limit"]) if p.get("limit") else None
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if limit is not None and limit < 1:
        raise BadRequest("limit must be positive")
    direction = p.get("direction")
    q = Query(
        repo_type=repo_type,
        search=p.getlist("search"),
        author=p.get("author"),
        tags=tags,
        sort=p.get("sort"),
        descending=direction != "1",
        limit=limit,
        cursor=p.get("cursor"),
        gated=truthy(p["gated"]) if p.get("gated") else None,
    )
    with hub.db.read() as session:
        rows, cursor = list_repos(session, actor, q)
    full, card = truthy(p.get("full")), truthy(p.get("cardData"))
    expand = p.getlist("expand") + p.getlist("expand[]")
    items = []
    for row in rows:
        item = repo_summary(row)
        if full or card or "cardData" in expand:
            item["cardData"] = row.card_data or {}
        if (full or "siblings" in expand) and row.head_sha:
            path = hub.repo_path(row.storage_key)
            item["siblings"] = siblings(RepoRef(row, open_repo(path), path), row.head_sha, False)
        if expand:
            keep = set(expand) | {"id", "_id"}
            item = {k: v for k, v in item.items() if k in keep}
        items.append(item)
    headers = {"Link": next_link(request, cursor=cursor)} if cursor else {}
    return JSON(items, headers=headers)


@router.get("/api/models")
def list_models(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.list_models."""
    return _listing("model", request, hub, actor)


@router.get("/api/datasets")
def list_datasets(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.list_datasets."""
    return _listing("dataset", request, hub, actor)


@router.get("/api/spaces")
def list_spaces(request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """Serves HfApi.list_spaces."""
    return _listing("space", request, hub, actor)
