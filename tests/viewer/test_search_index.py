"""The search index: built while a split is converted, it names the row groups that can hold a query's words,
and /search answers from those row groups exactly what a scan of the whole split answers."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from huggingface_hub import HfApi

from haven.viewer import search_index
from haven.viewer.search_index import IndexWriter, SearchIndex
from tests.conftest import Hub
from tests.viewer.conftest import converted, push_dataset, viewer

SCHEMA = pa.schema([("text", pa.string()), ("n", pa.int64()), ("tag", pa.string())])
GROUPS = [
    {"text": ["Hello World", "foo-bar baz"], "n": [1, 2], "tag": ["a", None]},
    {"text": ["Ünïcode été", "a needle in"], "n": [3, 4], "tag": ["b", "HELLO"]},
    {"text": ["other", "x" * 40 + "zebra" + "x" * 40], "n": [5, 6], "tag": [None, None]},
    {"text": ["plain", "words"], "n": [7, 8], "tag": ["c", "d"]},
]


@pytest.fixture
def index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> SearchIndex:
    monkeypatch.setattr(search_index, "RUN_PAIRS", 3)  # several run files, sorted and merged on disk
    writer = IndexWriter(tmp_path / "work", SCHEMA)
    for number, group in enumerate(GROUPS):
        writer.add(pa.table(group, schema=SCHEMA), number, first_row=2 * number)
    info = writer.finish(tmp_path / "index.bin")
    assert info == {"filename": "index.bin", "columns": ["text", "tag"], "words": 17, "postings": 18}
    assert not (tmp_path / "work").exists()
    return SearchIndex(tmp_path / "index.bin")


def test_index_lists_each_word_with_its_row_groups_in_word_order(index: SearchIndex) -> None:
    rows = pq.read_table(index.path).to_pylist()
    assert [r["word"] for r in rows] == sorted(r["word"] for r in rows)
    by_word = {r["word"]: r["row_groups"] for r in rows}
    assert by_word["hello"] == [0, 1] and by_word["needle"] == [1] and by_word["ünïcode"] == [1]
    assert by_word[""] == [2]  # the row group with a word longer than MAX_WORD
    assert "zebra" not in by_word


@pytest.mark.parametrize(
    ("query", "groups"),
    [
        ("needle", [1, 2]),  # group 2 is a candidate for every query: its long word is not listed
        ("NEEDL", [1, 2]),  # a part of a word, any case
        ("zebra", [2]),
        ("absent", [2]),
        ("foo-bar", [0, 2]),  # every word of the query must be in the row group
        ("world hello", [0, 2]),
        ("été", [1, 2]),
        ("words", [2, 3]),
    ],
)
def test_candidates_are_the_row_groups_holding_every_word_of_the_query(
    index: SearchIndex, query: str, groups: list[int]
) -> None:
    assert index.candidates(query, max_groups=4) == groups


def test_no_narrowing_without_words_or_beyond_max_groups(index: SearchIndex) -> None:
    assert index.candidates(" -- ", max_groups=4) is None  # no word: only a scan can tell
    assert index.candidates("İ", max_groups=4) is None  # lower-cased differently by Python and Arrow
    assert index.candidates("hello", max_groups=1) is None  # too many candidates: a scan is as quick


ROWS = 40_000  # five row groups of 8,000 rows: the index is used when it names at most two
NEEDLES = {5, 7_999}


def _row(i: int) -> str:
    text = f"row {i}" + (" the NEEDLE here" if i in NEEDLES else "") + (" Ünïcode" if i == 9_000 else "")
    text += (" " + "q" * 50 + "zebra" + "q" * 50) if i == 17_000 else ""
    return f"{i},{text},tag-{i % 7}\n"


@pytest.fixture(scope="module")
def big(sqlite_hub: Hub) -> str:
    repo_id = push_dataset(sqlite_hub, {"train.csv": ("n,text,tag\n" + "".join(map(_row, range(ROWS)))).encode()})
    converted(sqlite_hub, repo_id)
    return repo_id


def test_the_index_is_committed_beside_the_parquet_files(sqlite_hub: Hub, big: str) -> None:
    files = HfApi(endpoint=sqlite_hub.url, token=sqlite_hub.tokens["alice"]).list_repo_files(
        big, repo_type="dataset", revision="refs/convert/parquet"
    )
    assert ".search-index/default/train.parquet" in files
    assert [f for f in files if f.startswith("default/train/")] == ["default/train/0000.parquet"]


@pytest.mark.parametrize(
    ("query", "offset"),
    [("needle", 0), ("NEEDL", 1), ("zebra", 0), ("absentword", 0), ("ünïcode", 0), ("row 1234", 0),
     ("row 1234", 5), ("tag-3", 0), ("e here", 0)],
)  # fmt: skip
def test_search_answers_what_a_scan_answers(sqlite_hub: Hub, big: str, query: str, offset: int) -> None:
    params = {"dataset": big, "config": "default", "split": "train", "offset": offset, "length": 10}
    searched = viewer(sqlite_hub, "search", query=query, **params).json()
    term = query.lower().replace("'", "''")
    where = f"contains(lower(text), '{term}') OR contains(lower(tag), '{term}')"
    scanned = viewer(sqlite_hub, "filter", where=where, **params).json()
    assert searched["rows"] == scanned["rows"]
    assert searched["num_rows_total"] == scanned["num_rows_total"]
    expected = [i for i in range(ROWS) if query.lower() in _row(i).split(",", 1)[1].lower()]
    assert [r["row_idx"] for r in searched["rows"]] == expected[offset : offset + 10]
