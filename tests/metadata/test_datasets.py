"""dataset_info's data files: formats and row counts, from Parquet footers and from small CSV / JSON Lines."""

from __future__ import annotations

import io
import time

import pyarrow as pa
import pyarrow.parquet as pq
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub
from tests.support import wait_for


def _parquet(rows: int) -> bytes:
    buf = io.BytesIO()
    pq.write_table(pa.table({"text": [f"row {i}" for i in range(rows)]}), buf, row_group_size=100)
    return buf.getvalue()


def test_row_counts_and_formats(hub: Hub) -> None:
    api = hub.api("alice")
    repo_id = api.create_repo(f"ds-{time.monotonic_ns()}", repo_type="dataset").repo_id
    files = {
        "data/train-00000-of-00002.parquet": _parquet(250),
        "data/train-00001-of-00002.parquet": _parquet(17),
        "extra/notes.csv": b"a,b\n1,2\n3,4\n\n",
        "extra/more.jsonl": b'{"a": 1}\n{"a": 2}\n{"a": 3}\n',
        "broken.parquet": b"PAR1 not really PAR1",
    }
    ops = [CommitOperationAdd(p, d) for p, d in files.items()]
    api.create_commit(repo_id, ops, commit_message="data", repo_type="dataset")
    info = wait_for(lambda: (i := api.dataset_info(repo_id)) and getattr(i, "dataFiles", None) and i)
    data = info.dataFiles
    rows = {f["path"]: f.get("numRows") for f in data["files"]}
    assert rows == {
        "broken.parquet": None,
        "data/train-00000-of-00002.parquet": 250,
        "data/train-00001-of-00002.parquet": 17,
        "extra/more.jsonl": 3,
        "extra/notes.csv": 2,
    }
    assert data["formats"] == ["csv", "json", "parquet"]
    assert "numRows" not in data  # one file could not be counted, so there is no total
    assert "broken.parquet" in info.metadataErrors
    assert {"format:parquet", "format:csv", "format:json"} <= set(info.tags)
    # Once every file is readable, the total appears.
    api.delete_file("broken.parquet", repo_id, repo_type="dataset")
    assert wait_for(lambda: getattr(api.dataset_info(repo_id), "dataFiles", {}).get("numRows")) == 272
