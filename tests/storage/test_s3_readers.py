"""Haven's own readers of LFS bytes on S3: the metadata job (safetensors headers, read by range) and the
dataset viewer (Parquet files it writes to the bucket and DuckDB reads back from a local cache)."""

from __future__ import annotations

import numpy as np
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub
from tests.metadata.conftest import safetensors_bytes
from tests.storage.conftest import S3Server
from tests.storage.test_s3_hub import new_repo, stored_keys
from tests.support import wait_for
from tests.viewer.conftest import converted, push_dataset, viewer


def test_safetensors_header_is_read_from_the_bucket(s3_hub: Hub) -> None:
    repo_id = new_repo(s3_hub)
    weights = safetensors_bytes({"embed": ((10, 4), np.float32), "head": ((4, 3), np.float16)})
    s3_hub.api("alice").create_commit(repo_id, [CommitOperationAdd("model.safetensors", weights)], commit_message="w")
    api = s3_hub.api("alice")
    info = wait_for(lambda: (i := api.model_info(repo_id, expand=["safetensors"])).safetensors and i)
    assert info.safetensors.parameters == {"F32": 40, "F16": 12}


def test_dataset_viewer_converts_and_queries_on_s3(s3_hub: Hub, moto_server: S3Server, s3_bucket: str) -> None:
    csv = b"id,text\n" + b"".join(f"{i},row {i}\n".encode() for i in range(500))
    before = stored_keys(moto_server, s3_bucket, "haven/blobs/")
    repo_id = push_dataset(s3_hub, {"data/train.csv": csv})
    assert converted(s3_hub, repo_id)["viewer"] is True
    assert stored_keys(moto_server, s3_bucket, "haven/blobs/") - before  # the Parquet files went to the bucket
    page = viewer(s3_hub, "rows", dataset=repo_id, config="default", split="train", offset=490, length=20).json()
    assert page["num_rows_total"] == 500
    assert [r["row"]["id"] for r in page["rows"]] == list(range(490, 500))
