"""Hostile and broken datasets: clear errors per split, truncated cells with a flag, bounded jobs, and a
hub that keeps answering."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from haven.viewer.convert import convert
from haven.viewer.runner import ConversionFailed, run_child
from tests.conftest import Hub
from tests.viewer.conftest import converted, push_dataset, viewer


def test_malformed_csv_fails_its_split_only(sqlite_hub: Hub) -> None:
    files = {"train.csv": b"a,b\n1,2\n3,4\n", "test.csv": b'a,b\n1,2\n3,4,5,6\n"unterminated\n'}
    repo_id = push_dataset(sqlite_hub, files)
    assert converted(sqlite_hub, repo_id)["viewer"] is True
    body = viewer(sqlite_hub, "splits", dataset=repo_id).json()
    assert [s["split"] for s in body["splits"]] == ["train"]
    assert [f["split"] for f in body["failed"]] == ["test"]
    assert "Error" in body["failed"][0]["error"] and "/tmp" not in body["failed"][0]["error"]


def test_a_dataset_with_nothing_convertible_says_why(sqlite_hub: Hub) -> None:
    repo_id = push_dataset(sqlite_hub, {"test.csv": b'a,b\n1,2,3,4\n"x\n'})
    assert converted(sqlite_hub, repo_id)["viewer"] is False
    r = viewer(sqlite_hub, "splits", dataset=repo_id)
    assert r.status_code == 500 and r.headers["X-Error-Code"] == "DatasetGenerationError"
    assert "could not be converted" in r.json()["error"]


def test_huge_cells_are_cut_and_flagged(sqlite_hub: Hub) -> None:
    big = "y" * 2_000_000
    repo_id = push_dataset(
        sqlite_hub,
        {"train.jsonl": b'{"id": 1, "text": "%s", "tags": [%s]}\n' % (big.encode(), b",".join([b"1"] * 50_000))},
    )
    converted(sqlite_hub, repo_id)
    row = viewer(sqlite_hub, "first-rows", dataset=repo_id, config="default", split="train").json()["rows"][0]
    assert sorted(row["truncated_cells"]) == ["tags", "text"]
    assert len(row["row"]["text"]) == 10_000 and row["row"]["id"] == 1


def test_ten_thousand_columns_are_refused_clearly(sqlite_hub: Hub) -> None:
    header = ",".join(f"c{i}" for i in range(10_000)).encode()
    values = ",".join("1" for _ in range(10_000)).encode()
    repo_id = push_dataset(sqlite_hub, {"train.csv": header + b"\n" + values + b"\n", "test.csv": b"c0\n1\n"})
    converted(sqlite_hub, repo_id)
    failed = viewer(sqlite_hub, "splits", dataset=repo_id).json()["failed"]
    assert failed[0]["split"] == "train" and "too many columns (10000" in failed[0]["error"]


def test_archives_are_not_extracted(sqlite_hub: Hub) -> None:
    bomb = io.BytesIO()
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("train.csv", b"a\n" + b"0\n" * 50_000_000)  # 100 MB of rows in a ~100 KB archive
    repo_id = push_dataset(sqlite_hub, {"data.zip": bomb.getvalue(), "train.csv": b"a\n1\n"})
    converted(sqlite_hub, repo_id)
    body = viewer(sqlite_hub, "splits", dataset=repo_id).json()
    assert [s["split"] for s in body["splits"]] == ["train"]
    assert {"path": "data.zip"}.items() <= body["failed"][0].items()
    rows = viewer(sqlite_hub, "rows", dataset=repo_id, config="default", split="train").json()
    assert rows["num_rows_total"] == 1


def test_a_split_beyond_the_size_limit_is_converted_partially(tmp_path: Path) -> None:
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir()
    out.mkdir()
    (src / "train.csv").write_bytes(b"id,text\n" + b"".join(b"%d,%s\n" % (i, b"z" * 200) for i in range(20_000)))
    (src / "test.csv").write_bytes(b"id,text\n1,a\n")
    manifest = convert(src, out, max_bytes=1_000_000)
    splits = {s["split"]: s for s in manifest["configs"][0]["splits"]}
    train = splits["train"]
    assert train["partial"] is True and train["directory"] == "default/partial-train"
    assert 0 < train["num_rows"] < 20_000 and train["num_rows"] % 1000 == 0
    assert splits["test"]["partial"] is False and splits["test"]["directory"] == "default/test"
    assert (out / "default" / "partial-train" / "0000.parquet").exists()


def _work(tmp_path: Path) -> Path:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.csv").write_bytes(b"a\n1\n")
    return tmp_path


def test_a_conversion_that_runs_too_long_is_killed(tmp_path: Path) -> None:
    with pytest.raises(ConversionFailed, match="took longer than 0 s"):
        run_child(_work(tmp_path), 10**9, timeout=0.3, memory_mb=4096, heartbeat=lambda: None)


def test_a_conversion_over_its_memory_limit_fails_cleanly(tmp_path: Path) -> None:
    manifest = run_child(_work(tmp_path), 10**9, timeout=60, memory_mb=64, heartbeat=lambda: None)
    assert manifest["configs"] == [] and manifest["errors"][0]["error"]  # the child could not even load numpy


def test_a_conversion_within_limits_returns_its_manifest(tmp_path: Path) -> None:
    manifest = run_child(_work(tmp_path), 10**9, timeout=120, memory_mb=4096, heartbeat=lambda: None)
    assert manifest["configs"][0]["splits"][0]["num_rows"] == 1
