"""GET /api/models, /api/datasets, /api/spaces (search, filter, sort, cursor pagination) and the tag facets."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from haven.api.common import next_link, truthy
from haven.api.deps import ActorDep, HubDep
from haven.api.format import repo_summary
from haven.api.repos import siblings
from haven.api.responses import JSON
from haven.auth.permissions import Actor
from haven.errors import BadRequest, NotFound
from haven.git.store import open_repo
from haven.hub import Hub
from haven.repos.listing import MAX_PAGE, SORTS, Query, count_tags, list_repos, tag_type
from haven.repos.service import RepoRef

router = APIRouter()
TYPES = {"models": "model", "datasets": "dataset", "spaces": "space"}
# The properties `expand` may ask for (the Hub's lists, protocol §4); those Haven does not keep are left out.
EXPAND = {
    "model": {
        *("author", "baseModels", "cardData", "childrenModelCount", "config", "createdAt", "disabled"),
        *("downloads", "downloadsAllTime", "evalResults", "gated", "gguf", "inference"),
        *("inferenceProviderMapping", "lastModified", "library_name", "likes", "mask_token", "model-index"),
        *("pipeline_tag", "private", "resourceGroup", "safetensors", "sha", "siblings", "spaces", "tags"),
        *("transformersInfo", "trendingScore", "usedStorage", "widgetData"),
    },
    "dataset": {
        *("author", "cardData", "citation", "createdAt", "description", "disabled", "downloads"),
        *("downloadsAllTime", "gated", "lastModified", "likes", "mainSize", "paperswithcode_id", "private"),
        *("resourceGroup", "sha", "siblings", "tags", "trendingScore", "usedStorage"),
    },
    "space": {
        *("author", "cardData", "createdAt", "datasets", "disabled", "lastModified", "likes", "models"),
        *("private", "region", "resourceGroup", "runtime", "sdk", "sha", "siblings", "subdomain", "tags"),
        *("trendingScore", "usedStorage"),
    },
}
# Parameters that are shorthands for a tag filter: value -> tag.
TAG_PARAMS = {
    "pipeline_tag": lambda t, v: v,
    "library": lambda t, v: v,
    "language": lambda t, v: f"language:{v}" if t == "dataset" else v,
    "license": lambda t, v: f"license:{v}",
    "dataset": lambda t, v: f"dataset:{v}",
}


def _query(repo_type: str, request: Request) -> Query:
    """The listing query the request's parameters describe; BadRequest (400) for values that make no sense."""
    p = request.query_params
    tags = [t for t in p.getlist("filter") + p.getlist("filter[]") if t]
    for key, to_tag in TAG_PARAMS.items():
        tags += [to_tag(repo_type, v) for v in p.getlist(key) if v]
    limit = None
    if p.get("limit"):
        try:
            limit = int(p["limit"])
        except ValueError:
            raise BadRequest(f"limit must be an integer, not {p['limit']!r}") from None
        if limit < 1:
            raise BadRequest("limit must be a positive integer")
        limit = min(limit, MAX_PAGE)
    sort = p.get("sort") or None
    if sort is not None and sort not in SORTS:
        raise BadRequest(f"Invalid sort {sort!r}: use one of downloads, likes, trendingScore, lastModified, createdAt")
    direction = p.get("direction") or "-1"
    if direction not in ("-1", "1"):
        raise BadRequest(f"direction must be -1 (descending) or 1 (ascending), not {direction!r}")
    return Query(
        repo_type=repo_type,
        search=[s for s in p.getlist("search") if s],
        author=p.get("author") or None,
        tags=tags,
        sort=sort,
        descending=direction == "-1",
        limit=limit,
        cursor=p.get("cursor") or None,
        gated=truthy(p["gated"]) if p.get("gated") else None,
    )


def _listing(repo_type: str, request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    p = request.query_params
    q = _query(repo_type, request)
    expand = p.getlist("expand") + p.getlist("expand[]")
    unknown = sorted(set(expand) - EXPAND[repo_type])
    if unknown:
        raise BadRequest(f"Invalid expand {unknown}: use any of {', '.join(sorted(EXPAND[repo_type]))}")
    with hub.db.read() as session:
        rows, cursor = list_repos(session, actor, q)
    full, card = truthy(p.get("full")), truthy(p.get("cardData"))
    items = []
    for row in rows:
        item = repo_summary(row)
        if not (full or "downloadsAllTime" in expand):
            item.pop("downloadsAllTime", None)  # the Hub sends it only when asked for
        if full or card or "cardData" in expand:
            item["cardData"] = row.card_data or {}
        if (full or "siblings" in expand) and row.head_sha:
            path = hub.repo_path(row.storage_key)
            item["siblings"] = siblings(RepoRef(row, open_repo(path), path), row.head_sha, False)
        if "usedStorage" in expand:
            item["usedStorage"] = row.used_storage
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


def _counts(hub: Hub, actor: Actor, q: Query, top: int) -> dict[str, Any]:
    with hub.db.read() as session:
        result = count_tags(session, actor, q, top, reopen=hub.db.read)  # an expired count is recounted aside
    by_type: dict[str, dict[str, int]] = {}
    for tag, n in result.counts:
        by_type.setdefault(tag_type(tag, q.repo_type), {})[tag] = n
    return {"tags": dict(result.counts), "byType": by_type, "repos": result.repos, "exact": result.exact}


@router.get("/api/{plural}-tags-by-type")
def tags_by_type(plural: str, hub: HubDep, actor: ActorDep) -> JSON:
    """The Hub's /api/models-tags-by-type (and datasets-, spaces-): the tags in use, grouped by kind
    (library, pipeline_tag, language, license, dataset, region, other), most used first."""
    if plural not in TYPES:
        raise NotFound(f"No such listing: {plural}")
    counts = _counts(hub, actor, Query(repo_type=TYPES[plural], sort="downloads"), 500)
    return JSON(
        {
            kind: [{"id": tag, "label": tag.split(":", 1)[-1], "type": kind} for tag in tags]
            for kind, tags in counts["byType"].items()
        }
    )


@router.get("/api/haven/{plural}/tag-counts")
def tag_counts(plural: str, request: Request, hub: HubDep, actor: ActorDep) -> JSON:
    """Tag -> number of repositories matching the same parameters as the listing (search, author, filter,
    ...), for facets: {"tags": {...}, "byType": {kind: {tag: n}}, "repos": n, "exact": bool}. Counts cover
    at most the first 10,000 matches in the listing's order (`exact` is false beyond that)."""
    if plural not in TYPES:
        raise NotFound(f"No such listing: {plural}")
    q = _query(TYPES[plural], request)
    try:
        top = int(request.query_params.get("top") or 100)
    except ValueError:
        raise BadRequest("top must be an integer") from None
    return JSON(_counts(hub, actor, q, max(1, min(top, 1000))))
