"""Reading a converted split: pages of rows straight from Parquet row groups (pyarrow), search and filter
with DuckDB on a sandboxed connection that can read this split's files and nothing else."""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from haven.errors import BadRequest
from haven.viewer import narrowed
from haven.viewer.search_index import Plan, SearchIndex
from haven.viewer.splits import ROW_IDX, QueryTimeout, SplitFiles, footer
from haven.viewer.where import PREFIX, SUFFIX, check_orderby, check_where, quote

COUNT_CAP = 1_000  # matches counted past the page's offset; more are reported as a lower bound
COUNT_BUDGET = 0.2  # seconds the count may add to a search or filter (then the total is a lower bound)
STRING_TYPES = ("VARCHAR",)


def read_rows(files: SplitFiles, offset: int, length: int) -> pa.Table:
    """Rows [offset, offset + length) reading only the row groups that hold them."""
    parts: list[pa.Table] = []
    end = offset + length
    base = 0
    for path, n in zip(files.paths, files.rows, strict=True):
        if base >= end:
            break
        if base + n > offset:
            parts.append(_slice_file(str(path), offset - base, end - base))
        base += n
    if not parts:
        return pq.read_schema(str(files.paths[0])).empty_table() if files.paths else pa.table({})
    return pa.concat_tables(parts)


def _slice_file(path: str, start: int, stop: int) -> pa.Table:
    meta = footer(path)
    groups, first, base = [], None, 0
    for i in range(meta.num_row_groups):
        n = meta.row_group(i).num_rows
        if base + n > start and base < stop:
            groups.append(i)
            first = base if first is None else first
        base += n
    if not groups:
        return pq.ParquetFile(path, metadata=meta).schema_arrow.empty_table()
    table = pq.ParquetFile(path, metadata=meta).read_row_groups(groups)
    skip = max(start - (first or 0), 0)
    return table.slice(skip, max(min(stop, base) - (first or 0) - skip, 0))


@contextmanager
def sandbox(files: SplitFiles, memory_mb: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on the split's sandboxed database, its view named `data`."""
    with sandbox_views((("data", files),), memory_mb, row_index=True) as cursor:
        yield cursor


@contextmanager
def sandbox_views(views: Views, memory_mb: int, *, row_index: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor on a sandboxed database of these (name, split) views, with the row index column or without
    (see _database); cursors are cheap, databases are not."""
    cursor = _database(views, memory_mb, row_index).cursor()
    try:
        yield cursor
    finally:
        cursor.close()


Views = tuple[tuple[str, SplitFiles], ...]
_databases: OrderedDict[tuple[Views, int, bool], duckdb.DuckDBPyConnection] = OrderedDict()
_databases_lock = threading.Lock()
MAX_DATABASES = 32


def _database(views: Views, memory_mb: int, row_index: bool) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB whose views are the splits (with their row index), that cannot read, write or
    load anything else, and whose settings are locked before any user text runs; kept for the next query
    of the same splits (setting one up costs ~100 ms, a cursor on it well under one)."""
    key = (views, memory_mb, row_index)
    with _databases_lock:
        if key in _databases:
            _databases.move_to_end(key)
            return _databases[key]
    con = duckdb.connect(
        ":memory:",
        config={
            "threads": 1,
            "memory_limit": f"{memory_mb}MB",
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    paths = sorted({str(p) for _, files in views for p in files.paths})
    con.execute(f"SET allowed_paths = [{', '.join(_literal(p) for p in paths)}]")
    con.execute("SET enable_external_access = false")
    con.execute("SET max_temp_directory_size = '0B'")
    con.execute("SET parquet_metadata_cache = true")  # footers are parsed once, not per query
    for name, files in views:
        own = [str(p) for p in files.paths]
        body = (
            _union(own, files.rows) if row_index else f"SELECT * FROM read_parquet([{', '.join(map(_literal, own))}])"
        )
        con.execute(f"CREATE VIEW {quote(name)} AS {body}")
    con.execute("SET lock_configuration = true")
    with _databases_lock:
        _databases[key] = con
        while len(_databases) > MAX_DATABASES:
            _databases.popitem(last=False)  # closed once no cursor uses it any more
    return con


def _union(paths: list[str], rows: tuple[int, ...]) -> str:
    parts, base = [], 0
    for path, n in zip(paths, rows, strict=True):
        parts.append(
            f"SELECT * EXCLUDE (file_row_number), file_row_number + {base} AS {ROW_IDX} FROM read_parquet({_literal(path)}, file_row_number=true)"
        )
        base += n
    return " UNION ALL ".join(parts)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any], timeout: float) -> pa.Table:
    """Run one query, interrupted after `timeout` seconds."""
    timer = threading.Timer(timeout, con.interrupt)
    timer.start()
    try:
        return con.sql(sql, params=params or None).to_arrow_table()
    except duckdb.InterruptException:
        raise QueryTimeout(f"The query took longer than {timeout:g} s and was stopped") from None
    except duckdb.OutOfMemoryException:
        raise BadRequest("The query needs more memory than the viewer allows") from None
    except duckdb.Error as e:
        raise BadRequest(f"The query failed: {str(e).splitlines()[0][:300]}") from None
    finally:
        timer.cancel()


@dataclass
class Page:
    table: pa.Table  # the rows, with ROW_IDX as the last column
    total: int
    exact: bool = True  # False: counting all matches took too long; `total` is a lower bound


def search(
    files: SplitFiles, columns: list[str], text: str, offset: int, length: int, limits: tuple[float, int]
) -> Page:
    """Rows where any string column contains `text` (case-insensitive), in row order."""
    if not text.strip():
        raise BadRequest("Parameter 'query' is required")
    timeout, memory = limits
    with sandbox(files, memory) as con:
        strings = [c for c, t in _types(con, files).items() if t in STRING_TYPES and c in columns]
        if not strings:
            raise BadRequest("This split has no text columns to search")
        cond = " OR ".join(f"contains(lower({quote(c)}), ?)" for c in strings)
        params = [text.lower()] * len(strings)
        plan = _plan(files, strings, text)
        if plan is not None and plan.exact and plan.rows is not None:  # a rare word: its rows are listed
            return Page(narrowed.rows_at(files, plan.rows[offset : offset + length]), len(plan.rows))
        search = (strings, cond, params)
        if plan is not None and plan.groups is not None:
            table, total, exact = narrowed.page(
                con, files, plan.groups, search, (offset, length, offset + COUNT_CAP), (timeout, COUNT_BUDGET)
            )
            return Page(table, total, exact)
        if plan is not None and plan.at_least >= offset + COUNT_CAP:  # a common word: the count is known to cap
            if plan.first is not None and len(plan.first) >= offset + length:  # its first rows are listed
                return Page(narrowed.rows_at(files, plan.first[offset : offset + length]), plan.at_least, exact=False)
            everywhere = list(range(len(narrowed.layout(files))))  # read in order, stopping once the page is full
            table, total, exact = narrowed.page(con, files, everywhere, search, (offset, length, 0), (timeout, 0.0))
            return Page(table, total, exact) if exact else Page(table, max(plan.at_least, total), exact=False)
        return _page(con, cond, params, "", (offset, length), timeout)


def _plan(files: SplitFiles, strings: list[str], text: str) -> Plan | None:
    """The index's plan for the search; None without an index covering every searched column."""
    if files.index is None or not set(strings) <= set(files.index_columns):
        return None
    half = len(narrowed.layout(files)) // 2  # beyond half the row groups, a scan is as quick
    plan = SearchIndex(files.index).plan(text, half, lambda rows: narrowed.group_of(files, rows))
    covered = set(strings) == set(files.index_columns)  # postings list the rows of exactly these columns
    plan.exact = plan.exact and covered
    plan.first = plan.first if covered else None
    return plan


def filter_rows(
    files: SplitFiles, columns: list[str], where: str, orderby: str, offset: int, length: int, limits: tuple[float, int]
) -> Page:
    """Rows matching a validated WHERE clause, optionally ordered by one column."""
    timeout, memory = limits
    with sandbox(files, memory) as con:
        known = set(columns)
        check_where(con, where, known)
        order = check_orderby(orderby, known)
        return _page(con, "\n" + where + "\n", [], order, (offset, length), timeout)


def _page(
    con: duckdb.DuckDBPyConnection,
    cond: str,
    params: list[Any],
    order: str,
    window: tuple[int, int],
    timeout: float,
) -> Page:
    offset, length = window
    # Without an order, one thread and DuckDB's insertion-order guarantee give row order, and LIMIT stops early.
    order_by = f" ORDER BY {order}, {ROW_IDX}" if order else ""
    body = f"SELECT * FROM data WHERE ({cond})" if not cond.startswith("\n") else PREFIX + cond.strip("\n") + SUFFIX
    started = time.monotonic()
    rows = run(con, f"{body}{order_by} LIMIT {int(length)} OFFSET {int(offset)}", params, timeout)
    if rows.num_rows < length and (rows.num_rows or not offset):  # the scan reached the end: no count needed
        return Page(rows, offset + rows.num_rows)
    cap = offset + COUNT_CAP
    budget = min(max(timeout - (time.monotonic() - started), 0.01), COUNT_BUDGET)
    try:
        total = _count(con, body, params, budget, cap)
    except QueryTimeout:  # the page is worth more than the exact count
        return Page(rows, offset + rows.num_rows + 1, exact=False)
    # Counting stops at `cap` matches (the scan then ends early); beyond it the total is a lower bound.
    return Page(rows, total, exact=total < cap)


def _count(con: duckdb.DuckDBPyConnection, body: str, params: list[Any], timeout: float, cap: int) -> int:
    sql = f"SELECT count(*) AS n FROM (SELECT 1 FROM ({body}) LIMIT {int(cap)})"
    return int(run(con, sql, params, timeout).column(0)[0].as_py())


_column_types: dict[SplitFiles, dict[str, str]] = {}


def _types(con: duckdb.DuckDBPyConnection, files: SplitFiles) -> dict[str, str]:
    """The view's column types, asked once per split (binding the view reads every file's footer)."""
    if files not in _column_types:
        if len(_column_types) >= MAX_DATABASES:
            _column_types.clear()
        _column_types[files] = {name: str(kind) for name, kind, *_ in con.execute("DESCRIBE data").fetchall()}
    return _column_types[files]
