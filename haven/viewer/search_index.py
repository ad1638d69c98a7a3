"""The search index of a converted split: for every word of its text columns, the row groups holding it.

/search matches rows whose text columns contain the query (case-insensitive substring). A scan finds common
words at once but must read the whole split to find a rare or absent one; the index names the few row groups
that can hold a match, so only those are read. It is sound, not exact: every word of the query is part of a
word of each matching row, so row groups lacking one of the query's words cannot match, while a candidate
row group is still checked with the search's own condition. Words are runs of letters, digits and '_' of the
lower-cased text; a word longer than MAX_WORD marks its row group as a candidate for every query.

Built by the conversion child while it writes the row groups: per row group only its distinct words are kept,
spilled to run files beyond RUN_PAIRS, sorted and merged by DuckDB (which spills to disk) into one Parquet file of
(word, n, row_groups) sorted by word."""

from __future__ import annotations

import bisect
import shutil
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NOT_WORD = r"[^\pL\pN_]+"
MAX_WORD = 64
LONG = ""  # the entry of row groups with a word longer than MAX_WORD: a candidate for any query
RUN_PAIRS = 1_000_000  # (word, row group) pairs held in memory before a run file is written
MAX_POSTINGS = 200_000  # row groups listed under the words a query term matches, beyond which it is not read
MERGE_MEMORY = "256MB"


def words(texts: pa.Array) -> pa.Array:
    """The distinct words of some strings, lower-cased (the same function for the data and the query)."""
    lowered = pc.utf8_lower(texts)
    # Split on spaces and dedupe first (cheap), then split the few distinct pieces on every non-word run.
    pieces = pc.unique(pc.list_flatten(pc.split_pattern(lowered, " ")))
    found = pc.unique(pc.list_flatten(pc.split_pattern_regex(pieces, NOT_WORD)))
    return found.filter(pc.not_equal(found, ""))


def string_columns(schema: pa.Schema) -> list[str]:
    """The columns DuckDB reads as VARCHAR, i.e. the ones /search looks in."""
    return [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)]


class IndexWriter:
    """Collects (word, row group) pairs while a split is written; `finish` writes the index file."""

    def __init__(self, work: Path, schema: pa.Schema) -> None:
        self.work = work
        self.columns = string_columns(schema)
        self._words: list[pa.Array] = []
        self._groups: list[pa.Array] = []
        self._held = 0
        self._runs: list[Path] = []

    def add(self, table: pa.Table, group: int) -> None:
        if not self.columns:
            return
        chunks = [c for name in self.columns for c in table.column(name).cast(pa.large_string()).chunks]
        found = words(pa.chunked_array(chunks, pa.large_string()).combine_chunks()) if chunks else pa.array([])
        found = pc.unique(pc.if_else(pc.greater(pc.utf8_length(found), MAX_WORD), LONG, found))
        self._words.append(found.cast(pa.large_string()))
        self._groups.append(pa.array([group] * len(found), pa.int32()))
        self._held += len(found)
        if self._held >= RUN_PAIRS:
            self._spill()

    def _spill(self) -> None:
        if not self._held:
            return
        self.work.mkdir(parents=True, exist_ok=True)
        run = pa.table({"word": pa.concat_arrays(self._words), "row_group": pa.concat_arrays(self._groups)})
        path = self.work / f"run-{len(self._runs):05d}.parquet"
        pq.write_table(run, path, compression="lz4")  # unsorted: the merge sorts everything once
        self._runs.append(path)
        self._words, self._groups, self._held = [], [], 0

    def finish(self, path: Path) -> dict[str, Any] | None:
        """Write the index to `path`; its description for the manifest (None: no text columns)."""
        if not self.columns:
            return None
        self._spill()
        try:
            entries = _merge(self._runs, path, self.work)
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        return {"filename": path.name, "columns": self.columns, "words": entries}


def _merge(runs: list[Path], path: Path, work: Path) -> int:
    """One row per word with its sorted row groups, in word order, in bounded memory."""
    import duckdb

    schema = pa.schema([("word", pa.large_string()), ("n", pa.int64()), ("row_groups", pa.list_(pa.int32()))])
    if not runs:
        pq.write_table(schema.empty_table(), path)
        return 0
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in runs)
    config = {"threads": 1, "memory_limit": MERGE_MEMORY, "temp_directory": str(work / "spill")}
    entries = 0
    with duckdb.connect(":memory:", config=config) as con, pq.ParquetWriter(path, schema, compression="zstd") as out:
        # Sorting spills to disk; the lists are then built here a few thousand words at a time.
        reader = con.sql(
            f"SELECT word, row_group FROM read_parquet([{listed}]) ORDER BY word, row_group"
        ).to_arrow_reader(256 * 1024)
        carry: pa.Table | None = None
        for batch in reader:
            pairs = pa.Table.from_batches([batch]) if carry is None else pa.concat_tables([carry, pa.table(batch)])
            done, carry = _split_last_word(pairs)
            entries += _write_lists(out, done, schema)
        if carry is not None:
            entries += _write_lists(out, carry, schema)
    return entries


def _split_last_word(pairs: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The pairs of complete words, and those of the last word (which may go on in the next batch)."""
    last = pairs.column("word")[-1]
    cut = len(pairs) - pc.sum(pc.equal(pairs.column("word"), last)).as_py()
    return pairs.slice(0, cut), pairs.slice(cut)


def _write_lists(out: pq.ParquetWriter, pairs: pa.Table, schema: pa.Schema) -> int:
    if not len(pairs):
        return 0
    grouped = pairs.group_by("word", use_threads=False).aggregate([("row_group", "list")]).sort_by("word")
    lists = grouped.column("row_group_list")
    n = pc.list_value_length(lists).cast(pa.int64())
    out.write_table(pa.table({"word": grouped.column("word"), "n": n, "row_groups": lists}, schema=schema))
    return len(grouped)


class SearchIndex:
    """The reading side: which row groups may hold a query, or None when the index cannot narrow it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def candidates(self, text: str, max_groups: int) -> list[int] | None:
        terms = _query_words(text)
        if not terms:
            return None
        vocabulary = _vocabulary(str(self.path))
        words_column, counts = vocabulary.column("word"), vocabulary.column("n")
        always = self._groups(pc.indices_nonzero(pc.equal(words_column, LONG)))
        result: set[int] | None = None
        for term in sorted(terms, key=len, reverse=True):  # the longest words are the most selective
            hits = pc.indices_nonzero(pc.match_substring(words_column, term))
            if (pc.sum(counts.take(hits)).as_py() or 0) > MAX_POSTINGS:
                continue  # too common to narrow anything: reading its lists would cost more than it saves
            groups = self._groups(hits) | always
            result = groups if result is None else result & groups
            if not result:
                break
        if result is None or len(result) > max_groups:
            return None
        return sorted(result)

    def _groups(self, rows: pa.Array) -> set[int]:
        """The union of the row-group lists of index rows `rows`, reading only the index groups holding them."""
        if not len(rows):
            return set()
        file = pq.ParquetFile(str(self.path), metadata=_metadata(str(self.path)))
        starts = _starts(str(self.path))
        wanted: dict[int, list[int]] = {}
        for row in rows.to_pylist():
            group = bisect.bisect_right(starts, row) - 1
            wanted.setdefault(group, []).append(row - starts[group])
        out: set[int] = set()
        for group, offsets in wanted.items():
            lists = file.read_row_group(group, columns=["row_groups"]).column(0).take(offsets)
            out.update(pc.list_flatten(lists).to_pylist())
        return out


def _query_words(text: str) -> list[str]:
    """The query's words, as the index spelled them; none when the query's lower case is ambiguous."""
    if pc.utf8_lower(pa.array([text]))[0].as_py() != text.lower():
        return []  # Python and Arrow lower-case it differently (e.g. 'İ'): only a scan is sure to match
    return words(pa.array([text])).to_pylist()


# Index files are immutable (content-addressed blobs): their vocabulary and layout are read once per process.
@lru_cache(maxsize=16)
def _vocabulary(path: str) -> pa.Table:
    return pq.read_table(path, columns=["word", "n"])


@lru_cache(maxsize=16)
def _metadata(path: str) -> pq.FileMetaData:
    return pq.read_metadata(path)


@lru_cache(maxsize=16)
def _starts(path: str) -> list[int]:
    """The first index row of each of the index file's row groups."""
    meta, starts, base = _metadata(path), [], 0
    for i in range(meta.num_row_groups):
        starts.append(base)
        base += meta.row_group(i).num_rows
    return starts
