"""After a commit to main, the viewer job converts each split to Parquet under refs/convert/parquet, which
`datasets` loads; the API's rows are the rows `datasets.load_dataset` returns from the original files."""

from __future__ import annotations

import io
import json
from pathlib import Path

import httpx
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image

from tests.conftest import Hub
from tests.viewer.conftest import converted, load_rows, push_dataset, viewer

REF = "refs/convert/parquet"


def _png(color: tuple[int, int, int]) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (3, 2), color).save(buf, format="PNG")
    return buf.getvalue()


def _parquet(table: pa.Table) -> bytes:
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


FORMATS = {
    "csv": {"data/train.csv": b"id,text,score\n1,hello,0.5\n2,world,1.5\n3,,2.5\n", "data/test.csv": b"id,text,score\n9,x,0\n"},
    "tsv": {"train.tsv": b"a\tb\n1\tone\n2\ttwo\n"},
    "jsonl": {"train.jsonl": b'{"q": "a", "tags": [1, 2]}\n{"q": "b", "tags": []}\n', "validation.jsonl": b'{"q": "c", "tags": [3]}\n'},
    "mixed-json": {"train.jsonl": b"".join(b'{"v": %d}\n' % i for i in range(1500)) + b'{"v": "text"}\n'},
    "json": {"train.json": json.dumps([{"x": 1, "y": {"z": "deep"}}, {"x": 2, "y": {"z": "er"}}]).encode()},
    "parquet": {"data/train-00000-of-00001.parquet": _parquet(pa.table({"n": list(range(250)), "s": [f"r{i}" for i in range(250)]}))},
    "text": {"train.txt": b"first line\nsecond line\n\nfourth\n"},
    "imagefolder": {
        "train/cat/a.png": _png((255, 0, 0)), "train/cat/b.png": _png((0, 255, 0)), "train/dog/c.png": _png((0, 0, 255)),
    },
}  # fmt: skip


def _api_rows(hub: Hub, repo_id: str, config: str, split: str) -> list[dict]:
    """Every row of the split, paged through /rows."""
    rows: list[dict] = []
    while True:
        body = viewer(hub, "rows", dataset=repo_id, config=config, split=split, offset=len(rows), length=100).json()
        assert [r["row_idx"] for r in body["rows"]] == list(range(len(rows), len(rows) + len(body["rows"])))
        rows += [r["row"] for r in body["rows"]]
        if len(rows) >= body["num_rows_total"] or not body["rows"]:
            return rows


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_each_format_converts_and_rows_match_datasets(sqlite_hub: Hub, fmt: str, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = push_dataset(hub, FORMATS[fmt])
    assert converted(hub, repo_id)["viewer"] is True
    original = load_rows(hub, repo_id, tmp_path / "a")
    exported = load_rows(hub, repo_id, tmp_path / "b", "--revision", REF)
    assert sorted(exported) == sorted(original)
    splits = viewer(hub, "splits", dataset=repo_id).json()["splits"]
    assert sorted(s["split"] for s in splits) == sorted(original)
    for split, loaded in original.items():
        assert exported[split]["rows"] == loaded["rows"]
        if fmt != "imagefolder":
            assert _api_rows(hub, repo_id, "default", split) == loaded["rows"]


def test_image_folder_keeps_labels_and_image_bytes(sqlite_hub: Hub, tmp_path: Path) -> None:
    repo_id = push_dataset(sqlite_hub, FORMATS["imagefolder"])
    converted(sqlite_hub, repo_id)
    exported = load_rows(sqlite_hub, repo_id, tmp_path, "--revision", REF)["train"]
    assert exported["features"]["label"]["names"] == ["cat", "dog"]
    assert sorted(r["label"] for r in exported["rows"]) == [0, 0, 1]
    first = viewer(sqlite_hub, "first-rows", dataset=repo_id, config="default", split="train").json()
    cell = first["rows"][0]["row"]["image"]
    auth = {"Authorization": f"Bearer {sqlite_hub.tokens['alice']}"}
    assert Image.open(io.BytesIO(httpx.get(cell["src"], headers=auth).content)).size == (3, 2)
    assert httpx.get(cell["src"]).headers["content-type"] == "image/png"  # public: anonymous readers too
