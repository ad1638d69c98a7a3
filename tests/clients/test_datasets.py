"""datasets against Haven: CSV, JSONL and Parquet uploads and Dataset.push_to_hub read back with load_dataset."""

from __future__ import annotations

import csv
import hashlib
import json
import random
import uuid
from pathlib import Path

import pytest

from tests.clients._run import run_script
from tests.conftest import Hub

TRAIN = [{"id": i, "text": f"row {i}, with a comma", "score": i * 0.5, "tag": "ab"[i % 2]} for i in range(12)]
TEST = [{"id": 100 + i, "text": f"test {i}", "score": -1.25 * i, "tag": "c"} for i in range(3)]


def write_csv(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def write_parquet(path: Path, rows: list[dict], **options: object) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path, **{"row_group_size": 4, **options})  # several row groups


LAYOUTS = {
    # data/<split>.<ext>: the split names come from the file names.
    "csv": {"data/train.csv": (write_csv, TRAIN), "data/test.csv": (write_csv, TEST)},
    # A single file at the root is the train split.
    "jsonl": {"train.jsonl": (write_jsonl, TRAIN)},
    # The layout push_to_hub writes.
    "parquet": {
        "data/train-00000-of-00001.parquet": (write_parquet, TRAIN),
        "data/test-00000-of-00001.parquet": (write_parquet, TEST),
    },
}
EXPECTED = {"csv": {"train": TRAIN, "test": TEST}, "jsonl": {"train": TRAIN}, "parquet": {"train": TRAIN, "test": TEST}}


def upload_dataset(hub: Hub, folder: Path, fmt: str, *, private: bool = False, readme: bool = True) -> str:
    for name, (write, rows) in LAYOUTS[fmt].items():
        write(folder / name, rows)
    if readme:
        (folder / "README.md").write_text(f"---\nlicense: mit\n---\n# A {fmt} dataset\n")
    repo_id = f"alice/ds-{fmt}-{uuid.uuid4().hex[:8]}"
    api = hub.api("alice")
    api.create_repo(repo_id, repo_type="dataset", private=private)
    api.upload_folder(repo_id=repo_id, folder_path=folder, repo_type="dataset", commit_message=f"{fmt} data")
    return repo_id


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_uploaded_files_load_back(sqlite_hub: Hub, tmp_path: Path, fmt: str) -> None:
    # Without a README, datasets relies on a 404 EntryNotFound for README.md and asks for the revision's sha.
    repo_id = upload_dataset(sqlite_hub, tmp_path / "src", fmt, readme=fmt != "jsonl")
    result = run_script(sqlite_hub, "load_dataset.py", repo_id, user=None, home=tmp_path / "hf-home")
    assert result["normal"] == EXPECTED[fmt]
    assert result["streaming"] == EXPECTED[fmt]


def test_large_parquet_over_lfs(sqlite_hub: Hub, tmp_path: Path) -> None:
    """Above the LFS threshold and the HfFileSystem block size: redirects and several ranged reads."""
    rng = random.Random(0)
    rows = [{"id": i, "blob": rng.randbytes(600).hex()} for i in range(12_000)]
    src = tmp_path / "src"
    write_parquet(src / "data" / "train-00000-of-00001.parquet", rows, row_group_size=1000, compression="none")
    assert (src / "data" / "train-00000-of-00001.parquet").stat().st_size > 12_000_000
    repo_id = f"alice/ds-big-{uuid.uuid4().hex[:8]}"
    api = sqlite_hub.api("alice")
    api.create_repo(repo_id, repo_type="dataset")
    api.upload_folder(repo_id=repo_id, folder_path=src, repo_type="dataset")
    info = api.dataset_info(repo_id, files_metadata=True)
    assert next(s for s in info.siblings if s.rfilename.endswith(".parquet")).lfs is not None
    expected = {"rows": len(rows), "sha256": hashlib.sha256(json.dumps(rows).encode()).hexdigest()}
    result = run_script(sqlite_hub, "load_dataset.py", repo_id, "--digest", user=None, home=tmp_path / "hf-home")
    assert result["streaming"] == {"train": expected}
    assert result["normal"] == {"train": expected}


def test_readme_configs_select_the_files(sqlite_hub: Hub, tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_csv(src / "en" / "part-0.csv", TRAIN[:6])
    write_csv(src / "en" / "part-1.csv", TRAIN[6:])
    write_csv(src / "fr" / "all.csv", TEST)  # datasets picks one builder for all configs
    (src / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: en\n  data_files:\n  - split: train\n    path: en/part-*.csv\n  default: true\n"
        "- config_name: fr\n  data_files: fr/all.csv\n"
        "---\n# Two configurations\n"
    )
    repo_id = f"alice/ds-configs-{uuid.uuid4().hex[:8]}"
    sqlite_hub.api("alice").create_repo(repo_id, repo_type="dataset")
    sqlite_hub.api("alice").upload_folder(repo_id=repo_id, folder_path=src, repo_type="dataset")
    home = tmp_path / "hf-home"
    default = run_script(sqlite_hub, "load_dataset.py", repo_id, user=None, home=home)
    assert sorted(default["normal"]["train"], key=lambda r: r["id"]) == TRAIN
    assert sorted(default["streaming"]["train"], key=lambda r: r["id"]) == TRAIN
    fr = run_script(sqlite_hub, "load_dataset.py", repo_id, "--name", "fr", user=None, home=home)
    assert fr["normal"] == {"train": TEST} == fr["streaming"]


def test_load_at_an_older_revision(sqlite_hub: Hub, tmp_path: Path) -> None:
    repo_id = upload_dataset(sqlite_hub, tmp_path / "src", "jsonl")
    api = sqlite_hub.api("alice")
    api.create_tag(repo_id, tag="v1", repo_type="dataset")
    api.upload_file(
        path_or_fileobj=b'{"id": 1, "text": "new", "score": 0.0, "tag": "z"}\n',
        path_in_repo="train.jsonl",
        repo_id=repo_id,
        repo_type="dataset",
    )
    home = tmp_path / "hf-home"
    old = run_script(sqlite_hub, "load_dataset.py", repo_id, "--revision", "v1", user=None, home=home)
    assert old["normal"] == {"train": TRAIN} == old["streaming"]
    new = run_script(sqlite_hub, "load_dataset.py", repo_id, "--no-streaming", user=None, home=home)
    assert new["normal"] == {"train": [{"id": 1, "text": "new", "score": 0.0, "tag": "z"}]}


def test_private_dataset_needs_a_token(sqlite_hub: Hub, tmp_path: Path) -> None:
    repo_id = upload_dataset(sqlite_hub, tmp_path / "src", "csv", private=True)
    home = tmp_path / "hf-home"
    owner = run_script(sqlite_hub, "load_dataset.py", repo_id, home=home)
    assert owner["normal"] == EXPECTED["csv"] == owner["streaming"]
    reader = run_script(
        sqlite_hub, "load_dataset.py", repo_id, "--token", sqlite_hub.read_tokens["alice"], user=None, home=home
    )
    assert reader["normal"] == EXPECTED["csv"]
    for args in (["--no-token"], ["--token", sqlite_hub.tokens["bob"]]):
        denied = run_script(sqlite_hub, "load_dataset.py", repo_id, *args, user=None, home=tmp_path / "other-home")
        for mode in ("normal", "streaming"):
            assert "error" in denied[mode], (args[0], denied[mode])
            assert "DatasetNotFoundError" in denied[mode]["error"], denied[mode]["error"]


def test_dataset_push_to_hub(sqlite_hub: Hub, tmp_path: Path) -> None:
    # Rows unique to this call: tests/cas runs it again through Xet, and identical parquet files would
    # already be stored (as LFS objects, from this run) and be served from there.
    repo_id = f"alice/pushed-{uuid.uuid4().hex[:8]}"
    train, test = ([{**row, "tag": row["tag"] + repo_id[-8:]} for row in rows] for rows in (TRAIN, TEST))
    first = {"splits": {"train": train, "test": test}, "num_shards": {"train": 3}}
    second = {"splits": {"train": train[:5], "test": test[:1]}}  # one shard each: the old three must go
    commits = run_script(
        sqlite_hub, "push_dataset.py", repo_id, json.dumps(first), json.dumps(second), home=tmp_path / "push-home"
    )
    api = sqlite_hub.api("alice")
    assert api.dataset_info(repo_id).sha == commits[-1]
    parquet = sorted(f for f in api.list_repo_files(repo_id, repo_type="dataset") if f.endswith(".parquet"))
    assert parquet == ["data/test-00000-of-00001.parquet", "data/train-00000-of-00001.parquet"]
    first_files = api.list_repo_files(repo_id, repo_type="dataset", revision=commits[0])
    assert sum(f.startswith("data/train-") for f in first_files) == 3
    result = run_script(sqlite_hub, "load_dataset.py", repo_id, user=None, home=tmp_path / "hf-home")
    assert result["normal"] == second["splits"]
    assert result["streaming"] == second["splits"]
    old = run_script(
        sqlite_hub,
        "load_dataset.py",
        repo_id,
        "--revision",
        commits[0],
        "--no-streaming",
        user=None,
        home=tmp_path / "hf-home",
    )
    assert old["normal"] == first["splits"]
