"""The datasets-server answers for one dataset, built from what the viewer job recorded.

Access is the files' access: a dataset the caller cannot read does not exist (404). Answers about a
dataset whose conversion is still running or failed say so; `partial` says a split was cut at the limit."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from haven.auth.permissions import Actor, Permission
from haven.errors import BadRequest, HavenError, NotFound
from haven.hub import Hub
from haven.repos.service import RepoRef, find_repo
from haven.storage import cache as blob_cache
from haven.viewer import cells, query, sql
from haven.viewer.models import DatasetViewer
from haven.viewer.service import PARQUET_REF, state

MAX_LENGTH = 100
FIRST_ROWS = 100


class NotReady(HavenError):
    status = 503
    code = "ResponseNotReady"


class GenerationFailed(HavenError):
    status = 500
    code = "DatasetGenerationError"


@dataclass
class Dataset:
    """A readable dataset and its converted state."""

    ref: RepoRef
    state: DatasetViewer | None
    base_url: str  # the hub's URL, for parquet and asset links
    asset_base: str = ""  # where media cells are served from (the web pages use their own, session-checked)

    @property
    def name(self) -> str:
        return self.ref.row.full_id

    @property
    def pending(self) -> bool:
        return self.state is None or self.state.status == "pending"

    def manifest(self) -> dict[str, Any]:
        """The conversion result; NotReady or GenerationFailed when there is none."""
        if self.state is not None and self.state.status == "pending" and self.state.manifest:
            return self.state.manifest  # the previous conversion, while the new head converts
        if self.pending or self.state is None:
            raise NotReady("The response is not ready yet. Please retry later.", headers={"Retry-After": "5"})
        if self.state.status != "ok" or not self.state.manifest:
            raise GenerationFailed(f"The dataset could not be converted: {self.state.error or 'unknown error'}")
        return self.state.manifest

    def configs(self, config: str | None = None) -> list[dict[str, Any]]:
        found = [c for c in self.manifest()["configs"] if config is None or c["config"] == config]
        if config is not None and not found:
            raise NotFound(f"Config {config!r} not found in {self.name}")
        return found

    def split(self, config: str | None, split: str | None) -> dict[str, Any]:
        if not config or not split:
            raise BadRequest("Parameters 'config' and 'split' are required")
        for s in self.configs(config)[0]["splits"]:
            if s["split"] == split:
                return s
        raise NotFound(f"Split {split!r} not found in config {config!r} of {self.name}")


def open_dataset(hub: Hub, actor: Actor, dataset: str | None, base_url: str) -> Dataset:
    if not dataset:
        raise BadRequest("Parameter 'dataset' is required")
    with hub.db.read() as session:
        ref = find_repo(hub, session, actor, "dataset", dataset, Permission.READ)
    return Dataset(ref, state(hub, ref.row.id), base_url.rstrip("/"))


def revision(ds: Dataset) -> str | None:
    """The source commit answers describe (X-Revision), as `datasets` checks against the head it loads."""
    if ds.state is None:
        return None
    return (ds.state.manifest or {}).get("commit") or ds.state.commit


def is_valid(ds: Dataset) -> dict[str, Any]:
    ok = ds.state is not None and (ds.state.status == "ok" or bool(ds.pending and ds.state.manifest))
    return {"preview": ok, "viewer": ok, "search": ok, "filter": ok, "statistics": ok, "pending": ds.pending}


def splits(ds: Dataset, config: str | None) -> dict[str, Any]:
    out = [
        {"dataset": ds.name, "config": c["config"], "split": s["split"]}
        for c in ds.configs(config)
        for s in c["splits"]
    ]
    return {"splits": out, "pending": [], "failed": _failed(ds)}


def _failed(ds: Dataset) -> list[dict[str, Any]]:
    """Configs and splits that could not be converted, and files left out (archives, missing bytes)."""
    manifest = ds.manifest()
    skipped = [
        {"path": p, "error": "not converted (archives are not extracted)"} for p in manifest.get("skipped_files", [])
    ]
    return [{"dataset": ds.name, **e} for e in manifest.get("errors", []) + skipped]


def _partial(configs: list[dict[str, Any]]) -> bool:
    return any(s["partial"] for c in configs for s in c["splits"])


def info(ds: Dataset, config: str | None) -> dict[str, Any]:
    """DatasetInfo dicts per config (one when `config` is given), as `datasets` reads them."""
    configs = ds.configs(config)
    infos = {c["config"]: _info(ds, c) for c in configs}
    body = infos[config] if config else infos
    return {"dataset_info": body, "partial": _partial(configs), "pending": [], "failed": _failed(ds)}


def _info(ds: Dataset, c: dict[str, Any]) -> dict[str, Any]:
    name = ds.name.split("/")[-1]
    return {
        "dataset_name": name,
        "config_name": c["config"],
        "features": c["splits"][0]["features"],
        "splits": {
            s["split"]: {"name": s["split"], "num_bytes": s["num_bytes_memory"], "num_examples": s["num_rows"],
                         "dataset_name": name}
            for s in c["splits"]
        },
        "download_size": sum(f["size"] for s in c["splits"] for f in s["files"]),
        "dataset_size": sum(s["num_bytes_memory"] for s in c["splits"]),
    }  # fmt: skip


def parquet(ds: Dataset, config: str | None, split: str | None) -> dict[str, Any]:
    configs = ds.configs(config)
    files = []
    for c in configs:
        for s in c["splits"]:
            if split is not None and s["split"] != split:
                continue
            for f in s["files"]:
                url = f"{ds.base_url}/datasets/{ds.name}/resolve/{quote(PARQUET_REF, safe='')}/{f['path']}"
                files.append({"dataset": ds.name, "config": c["config"], "split": s["split"], "url": url,
                              "filename": f["filename"], "size": f["size"]})  # fmt: skip
    return {"parquet_files": files, "pending": [], "failed": _failed(ds), "partial": _partial(configs)}


def size(ds: Dataset) -> dict[str, Any]:
    configs = ds.configs()
    per_split = [
        {"dataset": ds.name, "config": c["config"], "split": s["split"], "num_rows": s["num_rows"],
         "num_bytes_parquet_files": sum(f["size"] for f in s["files"]), "num_bytes_memory": s["num_bytes_memory"],
         "num_columns": len(s["features"])}
        for c in configs for s in c["splits"]
    ]  # fmt: skip
    per_config = [
        {"dataset": ds.name, "config": c["config"],
         **{k: sum(s[k] for s in per_split if s["config"] == c["config"])
            for k in ("num_rows", "num_bytes_parquet_files", "num_bytes_memory")}}
        for c in configs
    ]  # fmt: skip
    total = {k: sum(s[k] for s in per_split) for k in ("num_rows", "num_bytes_parquet_files", "num_bytes_memory")}
    return {
        "size": {"dataset": {"dataset": ds.name, **total}, "configs": per_config, "splits": per_split},
        "pending": [],
        "failed": _failed(ds),
        "partial": _partial(configs),
    }


def split_files(hub: Hub, split: dict[str, Any]) -> query.SplitFiles:
    paths = []
    for f in split["files"]:
        path = blob_cache.local_file(hub.blobs, f["oid"], hub.settings.data_dir)  # DuckDB reads files
        if path is None:
            raise NotReady("The converted files are not available in storage")
        paths.append(Path(path))
    rows = tuple(f["num_rows"] for f in split["files"])
    index = split.get("search_index") or {}
    index_path = blob_cache.local_file(hub.blobs, index["oid"], hub.settings.data_dir) if index.get("oid") else None
    if index_path is None:
        return query.SplitFiles(tuple(paths), rows)  # converted before indexes existed: searches scan
    return query.SplitFiles(tuple(paths), rows, Path(index_path), tuple(index["columns"]))


def _asset(ds: Dataset, config: str, split: str) -> dict[str, str]:
    return {
        "base": ds.asset_base or f"{ds.base_url}/datasets-server/assets",
        "dataset": ds.name,
        "config": config,
        "split": split,
    }


def rows(hub: Hub, ds: Dataset, config: str | None, split: str | None, offset: int, length: int) -> dict[str, Any]:
    s = ds.split(config, split)
    offset, length = _window(offset, length)
    table = query.read_rows(split_files(hub, s), offset, length)
    return {
        "features": cells.features_list(s["features"]),
        "rows": cells.rows_json(table, s["features"], offset, _asset(ds, config or "", s["split"])),
        "num_rows_total": s["num_rows"],
        "num_rows_per_page": MAX_LENGTH,
        "partial": s["partial"],
    }


def first_rows(hub: Hub, ds: Dataset, config: str | None, split: str | None) -> dict[str, Any]:
    body = rows(hub, ds, config, split, 0, FIRST_ROWS)
    return {"dataset": ds.name, "config": config, "split": split, "features": body["features"],
            "rows": body["rows"], "truncated": body["num_rows_total"] > FIRST_ROWS}  # fmt: skip


def _window(offset: int, length: int) -> tuple[int, int]:
    if offset < 0:
        raise BadRequest("Parameter 'offset' must be positive")
    if length < 0:
        raise BadRequest("Parameter 'length' must be positive")
    return offset, min(length, MAX_LENGTH)


def _limits(hub: Hub) -> tuple[float, int]:
    return hub.settings.viewer_query_timeout, hub.settings.viewer_query_memory_mb


def search(
    hub: Hub, ds: Dataset, config: str | None, split: str | None, text: str, offset: int, length: int
) -> dict[str, Any]:
    s = ds.split(config, split)
    offset, length = _window(offset, length)
    page = query.search(split_files(hub, s), list(s["features"]), text, offset, length, _limits(hub))
    return _page_body(ds, s, config or "", page)


def filter_rows(
    hub: Hub, ds: Dataset, config: str | None, split: str | None, where: str, orderby: str, offset: int, length: int
) -> dict[str, Any]:
    s = ds.split(config, split)
    offset, length = _window(offset, length)
    page = query.filter_rows(split_files(hub, s), list(s["features"]), where, orderby, offset, length, _limits(hub))
    return _page_body(ds, s, config or "", page)


def _page_body(ds: Dataset, s: dict[str, Any], config: str, page: query.Page) -> dict[str, Any]:
    return {
        "features": cells.features_list(s["features"]),
        "rows": cells.rows_json(page.table, s["features"], None, _asset(ds, config, s["split"]), query.ROW_IDX),
        "num_rows_total": page.total,
        "num_rows_per_page": MAX_LENGTH,
        "partial": s["partial"],
    } | ({} if page.exact else {"num_rows_total_is_lower_bound": True})


def asset(hub: Hub, ds: Dataset, config: str | None, split: str | None, row: int, column: str) -> bytes:
    """The bytes of one image or audio cell."""
    s = ds.split(config, split)
    feature = s["features"].get(column)
    if not isinstance(feature, dict) or feature.get("_type") not in cells.MEDIA:
        raise NotFound(f"Column {column!r} holds no media")
    if not 0 <= row < s["num_rows"]:
        raise NotFound(f"Row {row} not found")
    value = query.read_rows(split_files(hub, s), row, 1).column(column)[0].as_py()
    if not value or not value.get("bytes"):
        raise NotFound("This cell has no bytes")
    return value["bytes"]


def statistics(ds: Dataset, config: str | None, split: str | None) -> dict[str, Any]:
    """Statistics computed by the conversion; a split converted before statistics existed has none."""
    s = ds.split(config, split)
    if s.get("statistics") is None:
        raise NotFound(f"No statistics for split {split!r}: {s.get('statistics_error') or 'not computed'}")
    return {"num_examples": s["num_rows"], "statistics": s["statistics"], "partial": s["partial"]}


def sql_query(hub: Hub, ds: Dataset, text: str, offset: int, length: int) -> dict[str, Any]:
    """A page of a read-only SELECT over the dataset's splits (see viewer/sql.py for the tables' names)."""
    splits = [(c["config"], s) for c in ds.configs() for s in c["splits"]]
    names = sql.view_names([(config, s["split"]) for config, s in splits])
    files = [split_files(hub, s) for _, s in splits]
    views = {name: files[i % len(files)] for i, name in enumerate(names)}
    body = sql.run(views, text, offset, length, _limits(hub))
    return {"dataset": ds.name, "tables": list(views), **body, "partial": _partial(ds.configs())}
