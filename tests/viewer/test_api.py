"""The datasets-server API shape: splits, info, first rows, paged rows, parquet files, sizes; the same rules
of access as the files; the `datasets-server.<host>` alias; configs from the card; partial conversion."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq

from tests.conftest import Hub
from tests.viewer.conftest import converted, load_rows, push_dataset, viewer

CSV = b"id,text\n" + b"".join(f"{i},row number {i}\n".encode() for i in range(1234))
CARD = b"""---
configs:
- config_name: small
  data_files:
  - split: train
    path: small/*.csv
- config_name: big
  data_files:
  - split: train
    path: big/train.csv
  - split: holdout
    path: big/holdout.csv
---
# Two configs
"""


def test_splits_info_rows_parquet_size(hub: Hub) -> None:
    repo_id = push_dataset(hub, {"data/train.csv": CSV, "data/test.csv": b"id,text\n7,seven\n"})
    assert converted(hub, repo_id) == {
        "preview": True, "viewer": True, "search": True, "filter": True, "statistics": True, "pending": False,
    }  # fmt: skip
    splits = viewer(hub, "splits", dataset=repo_id).json()
    assert sorted((s["config"], s["split"]) for s in splits["splits"]) == [("default", "test"), ("default", "train")]

    info = viewer(hub, "info", dataset=repo_id)
    head = hub.api("alice").dataset_info(repo_id).sha
    assert info.headers["X-Revision"] == head  # what datasets compares with the commit it loads
    body = info.json()
    assert body["partial"] is False and body["pending"] == [] and body["failed"] == []
    default = body["dataset_info"]["default"]
    assert default["features"]["id"] == {"dtype": "int64", "_type": "Value"}
    assert default["features"]["text"]["dtype"] in ("string", "large_string")
    assert default["splits"]["train"]["num_examples"] == 1234

    first = viewer(hub, "first-rows", dataset=repo_id, config="default", split="train").json()
    assert [f["name"] for f in first["features"]] == ["id", "text"]
    assert len(first["rows"]) == 100 and first["truncated"] is True
    assert first["rows"][0] == {"row_idx": 0, "row": {"id": 0, "text": "row number 0"}, "truncated_cells": []}

    page = viewer(hub, "rows", dataset=repo_id, config="default", split="train", offset=1200, length=50).json()
    assert page["num_rows_total"] == 1234 and page["partial"] is False
    assert [r["row_idx"] for r in page["rows"]] == list(range(1200, 1234))
    assert page["rows"][-1]["row"] == {"id": 1233, "text": "row number 1233"}

    files = viewer(hub, "parquet", dataset=repo_id).json()["parquet_files"]
    assert sorted(f["split"] for f in files) == ["test", "train"]
    train = next(f for f in files if f["split"] == "train")
    assert train["url"].endswith("/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet")
    data = httpx.get(train["url"], headers={"Authorization": f"Bearer {hub.tokens['alice']}"}, follow_redirects=True)
    assert len(data.content) == train["size"] and pq.read_table(io.BytesIO(data.content)).num_rows == 1234

    size = viewer(hub, "size", dataset=repo_id).json()["size"]
    assert size["dataset"]["num_rows"] == 1235
    assert size["dataset"]["num_bytes_parquet_files"] == sum(f["size"] for f in files)


def test_bad_parameters_are_clear_errors(sqlite_hub: Hub) -> None:
    repo_id = push_dataset(sqlite_hub, {"train.csv": b"a\n1\n"})
    converted(sqlite_hub, repo_id)
    assert viewer(sqlite_hub, "rows", dataset=repo_id, config="default").status_code == 400
    assert viewer(sqlite_hub, "rows", dataset=repo_id, config="default", split="nope").status_code == 404
    assert viewer(sqlite_hub, "rows", dataset=repo_id, config="nope", split="train").status_code == 404
    r = viewer(sqlite_hub, "rows", dataset=repo_id, config="default", split="train", offset=-1)
    assert r.status_code == 400 and "offset" in r.json()["error"]
    assert viewer(sqlite_hub, "rows", dataset=repo_id, config="default", split="train", offset="x").status_code == 400
    assert viewer(sqlite_hub, "splits").status_code == 400
    assert viewer(sqlite_hub, "splits", dataset="alice/does-not-exist").status_code == 404
    far = viewer(sqlite_hub, "rows", dataset=repo_id, config="default", split="train", offset=10**9).json()
    assert far["rows"] == [] and far["num_rows_total"] == 1


def test_private_datasets_are_404_to_others(sqlite_hub: Hub) -> None:
    repo_id = push_dataset(sqlite_hub, {"train.csv": b"secret\nhidden\n"}, private=True)
    converted(sqlite_hub, repo_id, user="alice")
    for endpoint in ("is-valid", "splits", "info", "parquet", "size", "first-rows", "rows", "search", "filter"):
        params = {"dataset": repo_id, "config": "default", "split": "train", "query": "hidden", "where": "true"}
        assert viewer(sqlite_hub, endpoint, None, **params).status_code == 404, endpoint
        assert viewer(sqlite_hub, endpoint, "bob", **params).status_code == 404, endpoint
        assert viewer(sqlite_hub, endpoint, "alice", **params).status_code == 200, endpoint


def test_datasets_server_host_alias(sqlite_hub: Hub) -> None:
    repo_id = push_dataset(sqlite_hub, {"train.csv": b"a\n1\n"})
    converted(sqlite_hub, repo_id)
    host = "datasets-server." + sqlite_hub.url.split("://")[1]
    r = httpx.get(f"{sqlite_hub.url}/info", params={"dataset": repo_id}, headers={"Host": host})
    assert r.status_code == 200 and "default" in r.json()["dataset_info"]
    files = httpx.get(f"{sqlite_hub.url}/parquet", params={"dataset": repo_id}, headers={"Host": host}).json()
    assert files["parquet_files"][0]["url"].startswith(sqlite_hub.url + "/datasets/")  # the hub, not the alias


def test_card_configs_become_viewer_configs(sqlite_hub: Hub, tmp_path: Path) -> None:
    files = {
        "README.md": CARD,
        "small/a.csv": b"x\n1\n2\n",
        "big/train.csv": b"y,z\n1,a\n2,b\n3,c\n",
        "big/holdout.csv": b"y,z\n4,d\n",
    }
    repo_id = push_dataset(sqlite_hub, files)
    converted(sqlite_hub, repo_id)
    splits = viewer(sqlite_hub, "splits", dataset=repo_id).json()["splits"]
    assert sorted((s["config"], s["split"]) for s in splits) == [
        ("big", "holdout"),
        ("big", "train"),
        ("small", "train"),
    ]
    exported = load_rows(sqlite_hub, repo_id, tmp_path, "--name", "big", "--revision", "refs/convert/parquet")
    assert exported["holdout"]["rows"] == [{"y": 4, "z": "d"}]
    assert len(exported["train"]["rows"]) == 3


def test_updates_follow_main(sqlite_hub: Hub) -> None:
    api = sqlite_hub.api("alice")
    repo_id = push_dataset(sqlite_hub, {"train.csv": b"a\n1\n"})
    converted(sqlite_hub, repo_id)
    api.upload_file(path_or_fileobj=b"a\n1\n2\n3\n", path_in_repo="train.csv", repo_id=repo_id, repo_type="dataset")
    head = api.dataset_info(repo_id).sha

    def caught_up() -> bool:
        r = viewer(sqlite_hub, "rows", dataset=repo_id, config="default", split="train")
        return r.status_code == 200 and r.headers["X-Revision"] == head and r.json()["num_rows_total"] == 3

    from tests.support import wait_for

    wait_for(caught_up, 120, "the second conversion")
    refs = api.list_repo_refs(repo_id, repo_type="dataset")
    assert [c.ref for c in refs.converts] == ["refs/convert/parquet"]


def _parquet(rows: int) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"n": list(range(rows)), "s": ["x" * 100] * rows}), buf)
    return buf.getvalue()
