"""Postings: the index lists the exact rows of rare words, so a rare one-word search reads only its page's
row groups and counts exactly; everything else falls back to row groups or a scan, with the same answers."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from haven.viewer import query, search_index
from haven.viewer.convert import INDEX_FILE, SplitWriter
from haven.viewer.query import Page
from haven.viewer.search_index import SearchIndex
from haven.viewer.splits import ROW_IDX, SplitFiles
from tests.conftest import Hub
from tests.viewer.conftest import converted, push_dataset, viewer

SCHEMA = pa.schema([("text", pa.string()), ("n", pa.int64())])
ROWS = 40_000  # five row groups of 8,000 rows
NEEDLES = {5, 7_999, 20_001, 39_999}  # in four row groups, one row each
CLUSTER = set(range(16_000, 16_010))  # ten rows of one row group: more than GROUP_ROWS, so not listed
LIMITS = (30.0, 256)


def _text(i: int) -> str:
    words = [f"row{i}", "everywhere"]
    words += ["the", "NEEDLE,"] if i in NEEDLES else []
    words += ["cluster"] if i in CLUSTER else []
    words += ["needles"] if i == 33_333 else []  # contains "needle": a substring match
    return " ".join(words)


def _split(directory: Path, texts: list[str | None]) -> SplitFiles:
    """A split written by the conversion's own writer, with its index."""
    writer = SplitWriter(directory, max_bytes=10**12, schema=SCHEMA)
    for start in range(0, len(texts), 1000):
        batch = texts[start : start + 1000]
        writer.add(pa.table({"text": batch, "n": list(range(start, start + len(batch)))}, schema=SCHEMA))
    writer.close()
    info = writer.finish_index()
    assert info is not None
    paths = tuple(directory / f["filename"] for f in writer.files)
    rows = tuple(f["num_rows"] for f in writer.files)
    return SplitFiles(paths, rows, directory / INDEX_FILE, tuple(info["columns"]))


@pytest.fixture(scope="module")
def split(tmp_path_factory: pytest.TempPathFactory) -> SplitFiles:
    return _split(tmp_path_factory.mktemp("split"), [_text(i) for i in range(ROWS)])


def _scanned(files: SplitFiles, text: str, offset: int, length: int) -> Page:
    """The same search without the index: a scan."""
    return query.search(SplitFiles(files.paths, files.rows), ["text", "n"], text, offset, length, LIMITS)


def _ids(page: Page) -> list[int]:
    return page.table.column(ROW_IDX).to_pylist()


def test_rare_words_list_their_rows_and_common_ones_do_not(split: SplitFiles) -> None:
    entries = {r["word"]: r for r in pq.read_table(split.index).to_pylist()}
    assert entries["needle"]["rows"] == sorted(NEEDLES) and entries["needle"]["n_rows"] == len(NEEDLES)
    assert entries["needle"]["row_groups"] == [0, 2, 4]
    # 10 rows of one group: more than GROUP_ROWS, but all of them are the word's first rows, so listed too
    assert entries["cluster"]["rows"] == sorted(CLUSTER) and entries["cluster"]["row_groups"] == [2]
    assert entries["everywhere"]["rows"] is None and entries["everywhere"]["n"] == 5
    # a word in every row lists its first FIRST_ROWS rows only
    assert entries["everywhere"]["first_rows"] == list(range(search_index.FIRST_ROWS))
    assert entries["everywhere"]["n_first"] == search_index.FIRST_ROWS
    assert entries["needle"]["first_rows"] is None  # its rows are all listed


@pytest.mark.parametrize(("offset", "length"), [(0, 100), (1, 2), (3, 10), (4, 10)])
def test_a_rare_word_is_answered_from_its_rows_exactly(split: SplitFiles, offset: int, length: int) -> None:
    plan = SearchIndex(split.index).plan("needle", 2)
    assert plan.exact and plan.rows is not None
    assert plan.rows.tolist() == sorted(NEEDLES | {33_333})  # 'needles' contains the query too
    page = query.search(split, ["text", "n"], "needle", offset, length, LIMITS)
    scan = _scanned(split, "needle", offset, length)
    assert _ids(page) == _ids(scan) == sorted(NEEDLES | {33_333})[offset : offset + length]
    assert page.table.drop([ROW_IDX]).to_pylist() == scan.table.drop([ROW_IDX]).to_pylist()
    assert (page.total, page.exact) == (scan.total, scan.exact) == (5, True)


@pytest.mark.parametrize("text", ["absentword", "NEEDLE", "the needle", "needle,", "cluster", "row39999", "ROW1"])
def test_every_path_answers_what_a_scan_answers(split: SplitFiles, text: str) -> None:
    page = query.search(split, ["text", "n"], text, 0, 20, LIMITS)
    scan = _scanned(split, text, 0, 20)
    assert _ids(page) == _ids(scan)
    assert page.table.drop([ROW_IDX]).to_pylist() == scan.table.drop([ROW_IDX]).to_pylist()
    matches = sum(text.lower() in _text(i).lower() for i in range(ROWS))
    for answer in (page, scan):  # exact, or an honest lower bound ('row1' is in 11,111 rows, each listed)
        assert answer.total == matches if answer.exact else answer.total <= matches


def test_only_exact_one_word_ascii_queries_skip_the_check(split: SplitFiles) -> None:
    index = SearchIndex(split.index)
    assert not index.plan("the needle", 2).exact  # two words: rows holding both, still checked
    assert not index.plan("needle,", 2).exact  # the comma is part of the condition
    assert index.plan("absentword", 2).exact and index.plan("absentword", 2).rows.tolist() == []
    assert index.plan("cluster", 2).exact and index.plan("cluster", 2).rows.tolist() == sorted(CLUSTER)


def test_a_common_word_counts_from_the_index_instead_of_scanning(
    split: SplitFiles, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(query, "COUNT_CAP", 3)  # the index knows 5 row groups hold it: more than the count's cap
    page = query.search(split, ["text", "n"], "everywhere", 0, 2, LIMITS)
    assert _ids(page) == [0, 1]
    assert (page.total, page.exact) == (5, False)  # a lower bound, said to be one


def test_a_common_words_first_pages_are_its_first_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "FIRST_ROWS", 100)
    monkeypatch.setattr(search_index, "MAX_WORD_ROWS", 1000)  # neither word lists all its rows
    # 'alpha1' in rows 0-2,999 and 'alpha2' from row 1,500 on: each lists its first 100 rows; the union is the
    # matches of 'alpha' only up to row 99 (where the first list ends), so rows 1,500-1,599 are left out
    texts = [" ".join(w for w, on in (("alpha1", i < 3000), ("alpha2", i >= 1500)) if on) for i in range(ROWS)]
    files = _split(tmp_path, texts)
    plan = SearchIndex(files.index).plan("alpha", 2)
    assert plan.first is not None and plan.first.tolist() == list(range(100))
    monkeypatch.setattr(query, "COUNT_CAP", 1)  # the index knows more row groups hold it than the count counts
    for offset, length in ((0, 100), (3, 50), (4, 100)):  # the last one goes beyond the listed rows: read
        page = query.search(files, ["text", "n"], "alpha", offset, length, LIMITS)
        scan = _scanned(files, "alpha", offset, length)
        assert _ids(page) == _ids(scan) == list(range(offset, offset + length))
        assert page.table.drop([ROW_IDX]).to_pylist() == scan.table.drop([ROW_IDX]).to_pylist()
        assert (page.total, page.exact) == (5, False)  # the five row groups holding it: a lower bound, said so


def test_first_rows_are_followed_for_a_bounded_number_of_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "MAX_TRACKED", 1)  # only the first word met is followed
    files = _split(tmp_path, [_text(i) for i in range(ROWS)])
    entries = {r["word"]: r for r in pq.read_table(files.index).to_pylist()}
    assert entries["everywhere"]["first_rows"] is None  # 'row0' came first
    assert entries["cluster"]["rows"] is None  # 10 rows in one group, not followed: not listed, as before
    assert entries["needle"]["rows"] == sorted(NEEDLES)  # rare words are listed all the same
    page = query.search(files, ["text", "n"], "cluster", 0, 20, LIMITS)
    assert _ids(page) == sorted(CLUSTER) and (page.total, page.exact) == (10, True)


def test_words_in_too_many_rows_are_not_listed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(search_index, "MAX_WORD_ROWS", 3)
    files = _split(tmp_path, [_text(i) for i in range(ROWS)])
    plan = SearchIndex(files.index).plan("needle", 2)
    assert plan.rows is None and plan.groups is None  # five rows in 3 of 5 row groups: a scan
    page = query.search(files, ["text", "n"], "needle", 0, 10, LIMITS)
    assert _ids(page) == sorted(NEEDLES | {33_333}) and (page.total, page.exact) == (5, True)


def test_long_words_disable_the_rows_path(tmp_path: Path) -> None:
    texts = [_text(i) for i in range(ROWS)]
    texts[9_000] = "x" * 40 + "needle" + "x" * 40  # not listed (too long): its row group is a candidate
    texts[100] = None
    files = _split(tmp_path, texts)
    plan = SearchIndex(files.index).plan("needle", 2)
    assert plan.rows is None and plan.groups is None  # the long word's group added: 4 of 5 groups
    page = query.search(files, ["text", "n"], "needle", 0, 10, LIMITS)
    assert _ids(page) == sorted(NEEDLES | {9_000, 33_333}) and (page.total, page.exact) == (6, True)


def test_an_index_without_rows_or_no_index_falls_back(split: SplitFiles, tmp_path: Path) -> None:
    older = tmp_path / "older.bin"  # an index built before postings existed
    pq.write_table(pq.read_table(split.index, columns=["word", "n", "row_groups"]), older)
    files = SplitFiles(split.paths, split.rows, older, split.index_columns)
    plan = SearchIndex(older).plan("needle", 4)
    assert plan.rows is None and plan.groups == [0, 2, 4]
    for kind in (files, SplitFiles(split.paths, split.rows)):
        page = query.search(kind, ["text", "n"], "needle", 1, 3, LIMITS)
        assert _ids(page) == sorted(NEEDLES | {33_333})[1:4] and (page.total, page.exact) == (5, True)


def _convert_child(hub: Hub) -> tuple[int, Path] | None:
    """The running conversion child's pid and output directory, once its first Parquet file exists."""
    root = hub.server.data_dir / "tmp" / "viewer"
    for written in root.glob("viewer-*/out/default/.tmp-train/0000.parquet"):
        work = written.parents[3]
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if str(work / "request.json").encode() in Path(f"/proc/{pid}/cmdline").read_bytes():
                    return int(pid), work
            except OSError:
                continue
    return None


def test_a_conversion_killed_while_indexing_leaves_nothing_half_done(sqlite_hub: Hub) -> None:
    lines = "".join(json.dumps({"text": _text(i)}) + "\n" for i in range(400_000))
    repo_id = push_dataset(sqlite_hub, {"train.jsonl": lines.encode()})
    deadline, found = time.monotonic() + 120, None
    while found is None and time.monotonic() < deadline:
        found = _convert_child(sqlite_hub)  # rows are being written and indexed
        time.sleep(0.01)
    assert found is not None, "the conversion was not seen writing"
    os.kill(found[0], signal.SIGKILL)
    state = converted(sqlite_hub, repo_id)
    assert not state["viewer"] and not state["search"]
    failed = viewer(sqlite_hub, "splits", dataset=repo_id)
    assert failed.status_code == 500 and "could not be converted" in failed.text and "(exit -9)" in failed.text
    assert not found[1].exists()  # the half-written files and index are gone
    r = viewer(sqlite_hub, "search", dataset=repo_id, config="default", split="train", query="needle")
    assert r.status_code >= 400  # nothing half-built is served
