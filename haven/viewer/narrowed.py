"""A /search page read from the row groups the search index names, instead of a scan of the whole split.

Each candidate row group's text columns are read (pyarrow) and checked with the search's own DuckDB condition,
so the rows, their order and the count are those of the scan; whole rows are read only for the page's matches.
Counting goes on through the remaining candidates within the same budget and cap as the scan's count."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from haven.viewer.splits import ROW_IDX, QueryTimeout, SplitFiles, footer

CANDIDATES = "__haven_candidates"
POSITION = "__haven_position"


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
    for done, number in enumerate(groups):
        now = time.monotonic()
        if scan.count_until is None and scan.matches >= offset + length:
            scan.count_until = min(now + budget, started + timeout)
        if scan.count_until is None and now > started + timeout:
            raise QueryTimeout(f"The query took longer than {timeout:g} s and was stopped")
        if scan.count_until is not None and (now > scan.count_until or scan.matches >= cap):
            more = 1 if done < len(groups) and scan.matches < cap else 0  # "at least one more", as the scan says
            return _joined(files, scan.parts), min(scan.matches + more, cap), False
        _visit(con, row_groups[number], search, (offset, offset + length), scan)
    return _joined(files, scan.parts), scan.matches, True


def _visit(
    con: duckdb.DuckDBPyConnection,
    rg: RowGroup,
    search: tuple[list[str], str, list[Any]],
    window: tuple[int, int],
    scan: Scan,
) -> None:
    strings, cond, params = search
    file = pq.ParquetFile(rg.path, metadata=footer(rg.path))
    text = file.read_row_group(rg.group, columns=strings)
    hits = _matching(con, text, cond, params)
    start, stop = window
    wanted = [p for i, p in enumerate(hits, scan.matches) if start <= i < stop]
    scan.matches += len(hits)
    if wanted:
        rows = file.read_row_group(rg.group).take(wanted)
        ids = pa.array([rg.first_row + p for p in wanted], pa.int64())
        scan.parts.append(rows.append_column(ROW_IDX, ids))


def _matching(con: duckdb.DuckDBPyConnection, text: pa.Table, cond: str, params: list[Any]) -> list[int]:
    """Positions in `text` (a row group's text columns) of the rows the search condition keeps."""
    text = text.append_column(POSITION, pa.array(range(text.num_rows), pa.int64()))
    con.register(CANDIDATES, text)
    try:
        found = con.execute(f"SELECT {POSITION} FROM {CANDIDATES} WHERE ({cond}) ORDER BY 1", params).fetchall()
    finally:
        con.unregister(CANDIDATES)
    return [row[0] for row in found]


def _joined(files: SplitFiles, parts: list[pa.Table]) -> pa.Table:
    if parts:
        return pa.concat_tables(parts)
    empty = footer(str(files.paths[0])).schema.to_arrow_schema().empty_table()
    return empty.append_column(ROW_IDX, pa.array([], pa.int64()))
