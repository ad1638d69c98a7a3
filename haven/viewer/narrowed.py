"""A /search page read from the row groups the search index names, instead of a scan of the whole split.

Each candidate row group's text columns are read (pyarrow) and checked with the search's own DuckDB condition,
so the rows, their order and the count are those of the scan; the page's rows are then read from the data
pages holding them (pages.py), not from whole row groups.
Counting goes on through the remaining candidates within the same budget and cap as the scan's count."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from haven.viewer import pages
from haven.viewer.splits import ROW_IDX, QueryTimeout, SplitFiles, footer

CANDIDATES = "__haven_candidates"
POSITION = "__haven_position"
GROUP = "__haven_group"
READERS = 2  # row groups whose text is decoded at once
MAX_BATCH = 32  # row groups checked by one DuckDB query
COUNT_BATCH = 4  # the same once the page is full, so that counting stops close to its budget


@dataclass(frozen=True)
class RowGroup:
    path: str
    group: int  # within its file
    first_row: int  # within the split


@lru_cache(maxsize=64)
def layout(files: SplitFiles) -> tuple[RowGroup, ...]:
    """The split's row groups in order, numbered as the index numbers them."""
    out, base = [], 0
    for path in files.paths:
        meta = footer(str(path))
        for i in range(meta.num_row_groups):
            out.append(RowGroup(str(path), i, base))
            base += meta.row_group(i).num_rows
    return tuple(out)


@lru_cache(maxsize=64)
def _first_rows(files: SplitFiles) -> np.ndarray:
    return np.array([rg.first_row for rg in layout(files)], np.int64)


def group_of(files: SplitFiles, rows: np.ndarray) -> np.ndarray:
    """The row group (as numbered by the index) of each row of the split."""
    return np.searchsorted(_first_rows(files), rows, side="right") - 1


def rows_at(files: SplitFiles, rows: np.ndarray) -> pa.Table:
    """Rows `rows` (sorted) of the split, with ROW_IDX, decoding only the data pages holding them (pages.py:
    a rare word's 100 rows sit in ~100 row groups, and decoding each whole was most of its page)."""
    if not len(rows):
        return _joined(files, [])
    row_groups, numbers = layout(files), group_of(files, rows)
    parts = []
    for number in np.unique(numbers).tolist():
        wanted = rows[numbers == number]
        rg = row_groups[number]
        table = pages.take(rg.path, rg.group, (wanted - rg.first_row).tolist())
        parts.append(table.append_column(ROW_IDX, pa.array(wanted, pa.int64())))
    return pa.concat_tables(parts)


_readers = ThreadPoolExecutor(max_workers=READERS, thread_name_prefix="viewer-rows")


@dataclass
class Scan:
    """The state of a walk over candidate row groups."""

    matches: int = 0
    parts: list[pa.Table] = field(default_factory=list)
    count_until: float | None = None  # once the page is full: when counting stops


def page(
    con: duckdb.DuckDBPyConnection,
    files: SplitFiles,
    groups: list[int],
    search: tuple[list[str], str, list[Any]],
    window: tuple[int, int, int],
    limits: tuple[float, float],
) -> tuple[pa.Table, int, bool]:
    """The window's rows, the match count and whether it is exact. search = (text columns, condition,
    parameters); window = (offset, length, count cap); limits = (timeout, count budget) in seconds."""
    offset, length, cap = window
    timeout, budget = limits
    started, row_groups, scan = time.monotonic(), layout(files), Scan()
    done, size = 0, 1
    while done < len(groups):
        now = time.monotonic()
        if scan.count_until is None and scan.matches >= offset + length:
            scan.count_until = min(now + budget, started + timeout)
        if scan.count_until is None and now > started + timeout:
            raise QueryTimeout(f"The query took longer than {timeout:g} s and was stopped")
        if scan.count_until is not None and (now > scan.count_until or scan.matches >= cap):
            more = 1 if scan.matches < cap else 0  # "at least one more", as the scan says
            return _joined(files, scan.parts), min(scan.matches + more, cap), False
        batch = [row_groups[n] for n in groups[done : done + size]]
        _visit(con, batch, search, (offset, offset + length), scan)
        done += len(batch)
        size = _next_size(size, done, scan.matches, offset + length)
    return _joined(files, scan.parts), min(scan.matches, cap), scan.matches < cap  # as the scan's capped count


def _next_size(size: int, done: int, matches: int, goal: int) -> int:
    """Row groups in the next batch: one DuckDB query per batch, batches growing, but no more than the matches
    seen so far say the page still needs (a word in every row group fills it in a few); once the page is
    full, small batches, so that counting stops on time."""
    grown = min(size * 2, MAX_BATCH)
    if matches >= goal:
        return min(grown, COUNT_BATCH)
    if matches:
        return max(1, min(grown, -(-(goal - matches) * done // matches)))
    return grown


def _visit(
    con: duckdb.DuckDBPyConnection,
    batch: list[RowGroup],
    search: tuple[list[str], str, list[Any]],
    window: tuple[int, int],
    scan: Scan,
) -> None:
    """Check a batch of row groups; keep the rows of those matches that fall in the window."""
    strings, cond, params = search
    start, stop = window
    texts = list(_readers.map(lambda rg: _read(rg, strings), batch))  # only the searched columns, two at a time
    hits = _matching(con, texts, cond, params)
    wanted: dict[int, list[int]] = {}
    for i, (number, position) in enumerate(hits, scan.matches):
        if start <= i < stop:
            wanted.setdefault(number, []).append(position)
    for number, positions in wanted.items():  # the window's rows: only the pages holding them (pages.py)
        rg = batch[number]
        table = pages.take(rg.path, rg.group, positions)
        scan.parts.append(table.append_column(ROW_IDX, pa.array([rg.first_row + p for p in positions], pa.int64())))
    scan.matches += len(hits)


def _read(rg: RowGroup, columns: list[str] | None) -> pa.Table:
    return pq.ParquetFile(rg.path, metadata=footer(rg.path)).read_row_group(rg.group, columns=columns)


def _matching(
    con: duckdb.DuckDBPyConnection, texts: list[pa.Table], cond: str, params: list[Any]
) -> list[tuple[int, int]]:
    """(index in the batch, position in that row group) of the rows the search condition keeps, in order."""
    numbered = [
        t.append_column(GROUP, pa.array(np.full(t.num_rows, i, np.int32))).append_column(
            POSITION, pa.array(np.arange(t.num_rows, dtype=np.int64))
        )
        for i, t in enumerate(texts)
    ]
    con.register(CANDIDATES, pa.concat_tables(numbered))
    try:
        sql = f"SELECT {GROUP}, {POSITION} FROM {CANDIDATES} WHERE ({cond}) ORDER BY 1, 2"
        return [(int(g), int(p)) for g, p in con.execute(sql, params).fetchall()]
    finally:
        con.unregister(CANDIDATES)


def _joined(files: SplitFiles, parts: list[pa.Table]) -> pa.Table:
    if parts:
        return pa.concat_tables(parts)
    empty = footer(str(files.paths[0])).schema.to_arrow_schema().empty_table()
    return empty.append_column(ROW_IDX, pa.array([], pa.int64()))
