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
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

NOT_WORD = r"[^\pL\pN_]+"
MAX_WORD = 64
LONG = ""  # the entry of row groups with a word longer than MAX_WORD: a candidate for any query
RUN_PAIRS = 1_000_000  # (word, row group) pairs held in memory before a run file is written
MAX_POSTINGS = 200_000  # row groups listed under the words a query term matches, beyond which it is not read
MERGE_MEMORY = "256MB"
GROUP_ROWS = 4  # a row group's rows are listed under each word it holds in at most this many rows
MAX_WORD_ROWS = 5_000  # a word's rows are listed when it is in at most this many rows of the split
FIRST_ROWS = 1_000  # for other words, their first rows (all rows of their first row groups) up to this many
MAX_TRACKED = 1_000_000  # words whose first rows are followed while writing (bounds the writer's memory)


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
    """Collects, per row group, its words (and the rows of those it holds in at most GROUP_ROWS rows) while a
    split is written; `finish` writes the index file."""

    def __init__(self, work: Path, schema: pa.Schema) -> None:
        self.work = work
        self.columns = string_columns(schema)
        self._parts: list[pa.Table] = []
        self._held = 0
        self._runs: list[Path] = []
        self._first: dict[str, int] = {}  # rows listed so far of words whose first rows are all listed; -1: done

    def add(self, table: pa.Table, group: int, first_row: int = 0) -> None:
        """Index row group `group`, whose first row is row `first_row` of the split."""
        if not self.columns or not table.num_rows:
            return
        found, rows = word_rows(table, self.columns)
        if not len(found):  # no words at all (e.g. only empty strings): nothing to list
            return
        part = _group_entries(found, rows, group, first_row, self._first)
        self._parts.append(part)
        self._held += len(part)
        if self._held >= RUN_PAIRS:
            self._spill()

    def _spill(self) -> None:
        if not self._held:
            return
        self.work.mkdir(parents=True, exist_ok=True)
        path = self.work / f"run-{len(self._runs):05d}.parquet"
        pq.write_table(pa.concat_tables(self._parts), path, compression="lz4")  # unsorted: the merge sorts once
        self._runs.append(path)
        self._parts, self._held = [], 0

    def finish(self, path: Path) -> dict[str, Any] | None:
        """Write the index to `path`; its description for the manifest (None: no text columns)."""
        if not self.columns:
            return None
        self._spill()
        try:
            entries, postings = _merge(self._runs, path, self.work)
        finally:
            shutil.rmtree(self.work, ignore_errors=True)
        return {"filename": path.name, "columns": self.columns, "words": entries, "postings": postings}


def word_rows(table: pa.Table, columns: list[str]) -> tuple[pa.Array, np.ndarray]:
    """The words of a table's text columns and the row of each (with repeats); words longer than MAX_WORD
    become LONG."""
    n = table.num_rows
    chunks = [c for name in columns for c in table.column(name).cast(pa.large_string()).chunks]
    texts = pa.chunked_array(chunks, pa.large_string()).combine_chunks()  # column after column: row = i % n
    spaced = pc.split_pattern(pc.utf8_lower(texts), " ")
    pieces = pc.list_flatten(spaced)
    piece_rows = pc.list_parent_indices(spaced).to_numpy() % n
    # Split the distinct pieces (few) on every non-word run, then give each piece occurrence its words.
    distinct = pc.unique(pieces)
    split = pc.split_pattern_regex(distinct, NOT_WORD).take(pc.index_in(pieces, value_set=distinct))
    found = pc.list_flatten(split)
    rows = piece_rows[pc.list_parent_indices(split).to_numpy()]
    real = pc.not_equal(found, "")
    found, rows = found.filter(real), rows[real.to_numpy(zero_copy_only=False)]
    return pc.if_else(pc.greater(pc.utf8_length(found), MAX_WORD), LONG, found), rows


def _group_entries(
    found: pa.Array, rows: np.ndarray, group: int, first_row: int, first: dict[str, int] | None = None
) -> pa.Table:
    """Run-file rows of one row group: (word, group, split row) for words in at most GROUP_ROWS of its rows
    or still short of FIRST_ROWS listed rows (`first`, updated), (word, group, null) for the others. LONG is
    never given rows: its rows are candidates, not matches."""
    encoded = pc.dictionary_encode(found)
    dictionary = encoded.dictionary
    span = int(rows.max()) + 1 if len(rows) else 1
    pairs = np.sort(encoded.indices.to_numpy().astype(np.int64) * span + rows)
    pairs = pairs[np.concatenate([[True], pairs[1:] != pairs[:-1]])]  # distinct (word, row), by word then row
    word_of, row_of = pairs // span, pairs % span
    counts = np.bincount(word_of, minlength=len(dictionary))
    few = counts <= GROUP_ROWS
    if first is not None:
        few |= _first_rows(dictionary, counts, first)
    few[pc.indices_nonzero(pc.equal(dictionary, LONG)).to_numpy()] = False
    listed = few[word_of]
    many = np.flatnonzero(~few)
    ids = np.concatenate([word_of[listed], many])
    split_rows = np.concatenate([row_of[listed] + first_row, np.zeros(len(many), np.int64)])
    mask = np.concatenate([np.zeros(int(listed.sum()), bool), np.ones(len(many), bool)])
    return pa.table(
        {
            "word": dictionary.take(pa.array(ids)).cast(pa.large_string()),
            "row_group": pa.array(np.full(len(ids), group, np.int32)),
            "row": pa.array(split_rows, pa.int64(), mask=mask),
        },
        schema=RUN_SCHEMA,
    )


def _first_rows(dictionary: pa.Array, counts: np.ndarray, first: dict[str, int]) -> np.ndarray:
    """Which of a row group's words still list all their rows (their first FIRST_ROWS rows of the split);
    updates the rows listed so far. A word not followed (beyond MAX_TRACKED) lists nothing more."""
    out = np.zeros(len(dictionary), bool)
    for i, word in enumerate(dictionary.to_pylist()):
        listed = first.get(word)
        if listed is None:
            if len(first) >= MAX_TRACKED or word == LONG:
                continue
            listed = 0
        if listed < 0:
            continue
        out[i] = True
        listed += int(counts[i])
        first[word] = listed if listed < FIRST_ROWS else -1
    return out


RUN_SCHEMA = pa.schema([("word", pa.large_string()), ("row_group", pa.int32()), ("row", pa.int64())])
INDEX_SCHEMA = pa.schema(
    [
        ("word", pa.large_string()),
        ("n", pa.int64()),  # row groups holding the word
        ("row_groups", pa.list_(pa.int32())),
        ("n_rows", pa.int64()),  # rows holding the word, when `rows` lists them all; else null
        ("rows", pa.list_(pa.int64())),
        ("n_first", pa.int64()),  # when `rows` is null: how many first rows of the word `first_rows` lists
        ("first_rows", pa.list_(pa.int64())),  # all rows of the word up to a row, sorted (at most FIRST_ROWS)
    ]
)


# Sorted row numbers are small steps apart: delta-encoded, the lists take ~30% less than zstd alone makes of them.
DELTAS = {name: "DELTA_BINARY_PACKED" for name in INDEX_SCHEMA.names if name != "word"}


def _merge(runs: list[Path], path: Path, work: Path) -> tuple[int, int]:
    """One row per word with its sorted row groups (and rows, for rare words), in word order, in bounded memory;
    returns (words, rows listed)."""
    import duckdb

    if not runs:
        pq.write_table(INDEX_SCHEMA.empty_table(), path)
        return 0, 0
    listed = ", ".join("'" + str(p).replace("'", "''") + "'" for p in runs)
    config = {"threads": 1, "memory_limit": MERGE_MEMORY, "temp_directory": str(work / "spill")}
    entries = postings = 0
    with (
        duckdb.connect(":memory:", config=config) as con,
        pq.ParquetWriter(
            path, INDEX_SCHEMA, compression="zstd", use_dictionary=["word"], column_encoding=DELTAS
        ) as out,
    ):
        # Sorting spills to disk; the lists are then built here a few thousand words at a time.
        reader = con.sql(
            f"SELECT word, row_group, row FROM read_parquet([{listed}]) ORDER BY word, row_group, row NULLS FIRST"
        ).to_arrow_reader(256 * 1024)
        carry: pa.Table | None = None
        for batch in reader:
            pairs = pa.Table.from_batches([batch]) if carry is None else pa.concat_tables([carry, pa.table(batch)])
            done, carry = _split_last_word(pairs)
            entries, postings = _tally((entries, postings), _write_lists(out, done))
        if carry is not None:
            entries, postings = _tally((entries, postings), _write_lists(out, carry))
    return entries, postings


def _tally(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return a[0] + b[0], a[1] + b[1]


def _split_last_word(pairs: pa.Table) -> tuple[pa.Table, pa.Table]:
    """The pairs of complete words, and those of the last word (which may go on in the next batch)."""
    last = pairs.column("word")[-1]
    cut = len(pairs) - pc.sum(pc.equal(pairs.column("word"), last)).as_py()
    return pairs.slice(0, cut), pairs.slice(cut)


def _write_lists(out: pq.ParquetWriter, pairs: pa.Table) -> tuple[int, int]:
    """Index rows for sorted (word, row group, row) entries: a word's rows are listed when every row group
    listed them and there are at most MAX_WORD_ROWS."""
    if not len(pairs):
        return 0, 0
    pairs = pairs.combine_chunks()
    words_column = pairs.column("word").chunk(0)
    groups = pairs.column("row_group").to_numpy()
    row_column = pairs.column("row").chunk(0)
    rows = row_column.fill_null(0).to_numpy()
    new_word = np.ones(len(pairs), bool)
    new_word[1:] = pc.not_equal(words_column[1:], words_column[:-1]).to_numpy(zero_copy_only=False)
    new_group = new_word.copy()
    new_group[1:] |= groups[1:] != groups[:-1]
    word_id = np.cumsum(new_word) - 1
    n_words = int(word_id[-1]) + 1
    n_groups = np.bincount(word_id[new_group], minlength=n_words)
    unknown = np.bincount(word_id, weights=row_column.is_null().to_numpy(zero_copy_only=False), minlength=n_words)
    n_rows = np.bincount(word_id, minlength=n_words)
    known = (unknown == 0) & (n_rows <= MAX_WORD_ROWS)
    listed_rows = np.where(known, n_rows, 0)
    first_of, n_first = _prefixes(row_column.is_null().to_numpy(zero_copy_only=False), word_id, new_word, known)
    table = pa.table(
        {
            "word": words_column.filter(pa.array(new_word)),
            "n": pa.array(n_groups, pa.int64()),
            "row_groups": _lists(n_groups, groups[new_group], pa.int32()),
            "n_rows": pa.array(n_rows, pa.int64(), mask=~known),
            "rows": _lists(listed_rows, rows[known[word_id]], pa.int64(), mask=~known),
            "n_first": pa.array(n_first, pa.int64(), mask=n_first == 0),
            "first_rows": _lists(n_first, rows[first_of], pa.int64(), mask=n_first == 0),
        },
        schema=INDEX_SCHEMA,
    )
    out.write_table(table)
    return n_words, int(listed_rows.sum())


def _prefixes(null: np.ndarray, word_id: np.ndarray, new_word: np.ndarray, known: np.ndarray) -> tuple:
    """For words whose rows are not all listed: their entries before their first unlisted row group (sorted by
    row group, nulls first), at most FIRST_ROWS of them: (mask of those entries, count per word)."""
    seen = np.cumsum(null)
    before = (seen - null)[new_word]  # nulls before each word's first entry
    clean = (seen - before[word_id]) == 0  # no null yet within the word
    clean &= ~known[word_id]
    rank = np.cumsum(clean)
    start = (rank - clean)[new_word]
    clean &= (rank - start[word_id]) <= FIRST_ROWS
    return clean, np.bincount(word_id, weights=clean, minlength=len(known)).astype(np.int64)


def _lists(lengths: np.ndarray, values: np.ndarray, kind: pa.DataType, mask: np.ndarray | None = None) -> pa.Array:
    offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(values, kind), mask=None if mask is None else pa.array(mask))


@dataclass
class Plan:
    """What the index says about a query: where its matches can be, and how many there are at least."""

    groups: list[int] | None = None  # the row groups that can hold a match (None: any)
    rows: np.ndarray | None = None  # the rows that can hold a match, sorted (None: not known)
    exact: bool = False  # `rows` are exactly the matches: no row needs checking
    at_least: int = 0  # matches known to exist without reading any row
    first: np.ndarray | None = None  # the first matches, sorted (a one-word query of words with first rows)


class SearchIndex:
    """The reading side: which row groups (or rows) may hold a query, or None when the index cannot narrow it."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def candidates(self, text: str, max_groups: int) -> list[int] | None:
        """The row groups that can hold matches; None when the index cannot narrow the search."""
        groups = self.plan(text, max_groups).groups
        return None if groups is None or len(groups) > max_groups else groups

    def plan(self, text: str, max_groups: int, group_of: Callable[[np.ndarray], np.ndarray] | None = None) -> Plan:
        """The query's plan. Rows come from the postings of rare words; `group_of` maps rows to row groups
        (needed to list their groups). Terms too common to narrow anything are left to the check."""
        terms = _query_words(text)
        if not terms:
            return Plan()
        vocabulary = _vocabulary(str(self.path))
        words_column = vocabulary.column("word")
        long = pc.indices_nonzero(pc.equal(words_column, LONG))
        plan = Plan()
        groups: set[int] | None = None
        for term in sorted(terms, key=len, reverse=True):  # the longest words are the most selective
            hits = pc.indices_nonzero(pc.match_substring(words_column, term))
            if _one_word(text, terms):  # every row group holding a word that contains it holds a match
                plan.at_least = int(pc.max(vocabulary.column("n").take(hits)).as_py() or 0)
            listed = vocabulary.column("n_rows").take(hits)
            if _one_word(text, terms) and not len(long) and listed.null_count:
                plan.first = self._first(hits, vocabulary)
            if not len(long) and listed.null_count == 0 and (pc.sum(listed).as_py() or 0) <= MAX_POSTINGS:
                rows = self._rows(hits)
                plan.rows = rows if plan.rows is None else np.intersect1d(plan.rows, rows)
                continue
            if (pc.sum(vocabulary.column("n").take(hits)).as_py() or 0) > MAX_POSTINGS:
                continue  # too common to narrow anything: reading its lists would cost more than it saves
            found = self._groups(hits) | self._groups(long)
            groups = found if groups is None else groups & found
        if plan.rows is not None and group_of is not None:
            if groups is not None:
                plan.rows = plan.rows[np.isin(group_of(plan.rows), list(groups))]
            groups = set(np.unique(group_of(plan.rows)).tolist())
        plan.exact = plan.rows is not None and _one_word(text, terms)
        plan.groups = None if groups is None else sorted(groups)
        if plan.groups is not None and len(plan.groups) > max_groups and not plan.exact:
            plan.groups = None
        return plan

    def _first(self, hits: pa.Array, vocabulary: pa.Table) -> np.ndarray | None:
        """The first matches of words `hits` (None unless each lists its rows or its first rows): their union up
        to the last row that every word's list reaches, where the union is exactly the matches."""
        n_rows, n_first = vocabulary.column("n_rows").take(hits), vocabulary.column("n_first").take(hits)
        partial = n_rows.is_null()
        if pc.any(pc.and_(partial, n_first.is_null())).as_py():
            return None
        if (pc.sum(n_rows).as_py() or 0) + (pc.sum(n_first).as_py() or 0) > MAX_POSTINGS:
            return None
        firsts = [part.combine_chunks() for part in self._lists(hits.filter(partial), "first_rows")]
        ends = [int(p.values[int(o) - 1].as_py()) for p in firsts for o in p.offsets.to_numpy()[1:]]
        found = [pc.list_flatten(p).to_numpy() for p in firsts + self._lists(hits.filter(pc.invert(partial)), "rows")]
        union = np.unique(np.concatenate(found))
        return union[union <= min(ends)]

    def _rows(self, rows: pa.Array) -> np.ndarray:
        """The sorted union of the row lists of index rows `rows`."""
        lists = [pc.list_flatten(part).to_numpy() for part in self._lists(rows, "rows")]
        return np.unique(np.concatenate(lists)) if lists else np.zeros(0, np.int64)

    def _groups(self, rows: pa.Array) -> set[int]:
        """The union of the row-group lists of index rows `rows`."""
        return {g for part in self._lists(rows, "row_groups") for g in pc.list_flatten(part).to_pylist()}

    def _lists(self, rows: pa.Array, column: str) -> list[pa.Array]:
        """The `column` lists of index rows `rows`, reading only the index groups holding them."""
        if not len(rows):
            return []
        file = pq.ParquetFile(str(self.path), metadata=_metadata(str(self.path)))
        starts = _starts(str(self.path))
        wanted: dict[int, list[int]] = {}
        for row in rows.to_pylist():
            group = bisect.bisect_right(starts, row) - 1
            wanted.setdefault(group, []).append(row - starts[group])
        return [file.read_row_group(g, columns=[column]).column(0).take(offsets) for g, offsets in wanted.items()]


def _one_word(text: str, terms: list[str]) -> bool:
    """The query is one ASCII word: a row matches exactly when one of its words contains it."""
    return len(terms) == 1 and text.lower() == terms[0] and text.isascii()


def _query_words(text: str) -> list[str]:
    """The query's words, as the index spelled them; none when the query's lower case is ambiguous."""
    if pc.utf8_lower(pa.array([text]))[0].as_py() != text.lower():
        return []  # Python and Arrow lower-case it differently (e.g. 'İ'): only a scan is sure to match
    return words(pa.array([text])).to_pylist()


# Index files are immutable (content-addressed blobs): their vocabulary and layout are read once per process.
@lru_cache(maxsize=16)
def _vocabulary(path: str) -> pa.Table:
    names = pq.read_schema(path).names
    table = pq.read_table(path, columns=[c for c in ("word", "n", "n_rows", "n_first") if c in names])
    for column in ("n_rows", "n_first"):  # built before postings (or first rows) existed: no word lists them
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(table.num_rows, pa.int64()))
    return table


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
