"""The dataset page's Viewer tab: split switcher, column types, paged rows, search, filter and column
statistics, rendered on the server from the same viewer services the datasets-server API uses."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from haven.errors import BadRequest, HavenError, NotFound
from haven.viewer import cells
from haven.viewer import dataset as viewer
from haven.viewer.sql import view_names
from haven.web.core import Web, render, repo_routes, web_router
from haven.web.repo import open_repo, repo_context

router = web_router()
PAGE = 50


@repo_routes(router, "/{namespace}/{name}/viewer", ["GET"])
def viewer_page(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    if repo_type != "dataset":
        raise NotFound("Only datasets have a viewer")
    ref = open_repo(web, repo_type, namespace, name)
    ds = viewer.open_dataset(web.hub, web.actor, ref.row.full_id, web.base)
    ds.asset_base = f"/datasets/{ref.row.full_id}/viewer/assets"
    context: dict[str, Any] = {
        **repo_context(web, ref, "viewer"), "error": None, "page": None, "stats": {}, "status_text": None,
        "type_name": type_name, "failed": [],
    }  # fmt: skip
    try:
        configs = ds.configs()
    except HavenError as e:  # pending or failed: the page says so
        return render(web, "viewer.html", **{**context, "status_text": str(e), "configs": []})
    q = web.request.query_params
    config = q.get("config") or configs[0]["config"]
    split = q.get("split") or next(c for c in configs if c["config"] == config)["splits"][0]["split"]
    mode = {"q": q.get("q", "").strip(), "where": q.get("where", "").strip(), "orderby": q.get("orderby", "").strip()}
    offset = 0
    try:
        offset = max(int(q.get("offset", "0") or 0), 0)
        context["page"] = _page(web, ds, config, split, offset, mode)
        context["stats"] = _stats(ds, config, split)
    except ValueError:
        offset, context["error"] = 0, "offset must be a number"
    except (BadRequest, NotFound) as e:
        context["error"] = str(e)
    context.update(configs=configs, config=config, split=split, offset=offset, mode=mode, page_size=PAGE)
    context["failed"] = ds.manifest().get("errors", [])
    return render(web, "viewer.html", **context)


@repo_routes(router, "/{namespace}/{name}/viewer/assets", ["GET"])
def viewer_asset(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """A media cell for the page's <img> tags, with the visitor's session (and the API's sandbox headers)."""
    if repo_type != "dataset":
        raise NotFound("Only datasets have a viewer")
    q = web.request.query_params
    ds = viewer.open_dataset(web.hub, web.actor, f"{namespace}/{name}", web.base)
    try:
        row = int(q.get("row", "-1"))
    except ValueError:
        raise BadRequest("row must be a number") from None
    data = viewer.asset(web.hub, ds, q.get("config"), q.get("split"), row, q.get("column", ""))
    return Response(data, media_type=cells.media_type(data), headers=cells.MEDIA_HEADERS)


@repo_routes(router, "/{namespace}/{name}/viewer/sql", ["GET"])
def viewer_sql(web: Web, repo_type: str, namespace: str, name: str) -> Response:
    """The SQL console: a read-only SELECT over the dataset's splits, one page of results at a time."""
    if repo_type != "dataset":
        raise NotFound("Only datasets have a viewer")
    ref = open_repo(web, repo_type, namespace, name)
    ds = viewer.open_dataset(web.hub, web.actor, ref.row.full_id, web.base)
    q = web.request.query_params
    text = q.get("sql", "").strip()
    context: dict[str, Any] = {**repo_context(web, ref, "viewer"), "sql": text, "result": None, "error": None,
                               "offset": 0, "page_size": PAGE, "tables": []}  # fmt: skip
    try:
        context["tables"] = sql_tables(ds)
        context["offset"] = max(int(q.get("offset", "0") or 0), 0)
        if text:
            context["result"] = viewer.sql_query(web.hub, ds, text, context["offset"], PAGE)
    except ValueError:
        context["error"] = "offset must be a number"
    except HavenError as e:  # refused, invalid, too slow, not converted yet: the page says why
        context["error"] = str(e)
    return render(web, "viewer_sql.html", **context)


def sql_tables(ds: viewer.Dataset) -> list[str]:
    return view_names([(c["config"], s["split"]) for c in ds.configs() for s in c["splits"]])


def _page(web: Web, ds: viewer.Dataset, config: str, split: str, offset: int, mode: dict[str, str]) -> dict[str, Any]:
    if mode["q"]:
        return viewer.search(web.hub, ds, config, split, mode["q"], offset, PAGE)
    if mode["where"] or mode["orderby"]:
        return viewer.filter_rows(web.hub, ds, config, split, mode["where"] or "true", mode["orderby"], offset, PAGE)
    return viewer.rows(web.hub, ds, config, split, offset, PAGE)


def _stats(ds: viewer.Dataset, config: str, split: str) -> dict[str, Any]:
    """Column name -> statistics, with histogram bars scaled to the largest bin."""
    try:
        stats = viewer.statistics(ds, config, split)["statistics"]
    except NotFound:
        return {}
    out = {}
    for s in stats:
        cs = s["column_statistics"]
        hist = (cs.get("histogram") or {}).get("hist") or list((cs.get("frequencies") or {}).values())[:10]
        labels = list((cs.get("frequencies") or {}).keys())[:10]
        top = max(hist) if hist else 1
        out[s["column_name"]] = {**s, "bars": [round(100 * h / top) for h in hist], "labels": labels}
    return out


def type_name(feature: Any) -> str:
    """A column's type as a short label: int64, string, ClassLabel, Image, list<...>."""
    if isinstance(feature, dict):
        if feature.get("_type") == "Value":
            return str(feature.get("dtype"))
        if feature.get("_type") in ("List", "LargeList", "Sequence"):
            return f"list<{type_name(feature.get('feature'))}>"
        return str(feature.get("_type", "struct"))
    if isinstance(feature, list):
        return f"list<{type_name(feature[0]) if feature else ''}>"
    return "?"
