"""The SQL console: one read-only SELECT over a dataset's splits, each a view named "config/split" (and, when
the dataset has one config, also just "split"), results paged.

Two fences. DuckDB's own: the database may read the dataset's Parquet files and nothing else
(allowed_paths, enable_external_access=false, no extension loading, no spilling to disk), within a memory
limit, and its configuration is locked before any user text runs, so no SET or PRAGMA can lift a limit
(query.py builds it). And a check of the statement before it runs (DuckDB parses it): exactly one SELECT whose
tables are the dataset's views or its own CTEs, without table functions (no read_csv, glob, query()) or
functions that reveal the server (current_setting, getenv). DDL such as CREATE VIEW would otherwise change the
database the next visitor of this dataset shares."""

from __future__ import annotations

import base64
import datetime
import decimal
import math
from typing import Any

import duckdb
import orjson
import pyarrow as pa

from haven.errors import BadRequest
from haven.viewer import query

MAX_SQL = 10_000
MAX_LENGTH = 100
MAX_CELL = 10_000  # characters of a text cell in an answer; longer ones are cut and listed as truncated
TABLE_FUNCTIONS = {"range", "generate_series", "unnest"}
DENIED_FUNCTIONS = {"current_setting", "getenv", "query", "query_table", "read_text", "read_blob"}
QUERY_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}


def view_names(splits: list[tuple[str, str]]) -> list[str]:
    """The view name of each (config, split); plain split names too when there is a single config."""
    single = len({config for config, _ in splits}) == 1
    return [f"{config}/{split}" for config, split in splits] + ([s for _, s in splits] if single else [])


def check(con: duckdb.DuckDBPyConnection, sql: str, views: set[str]) -> str:
    """The statement, without a trailing ';', if it is one SELECT over `views`; BadRequest otherwise."""
    text = sql.strip().rstrip(";").strip()
    if not text:
        raise BadRequest("The query is empty")
    if len(text) > MAX_SQL:
        raise BadRequest(f"The query is longer than {MAX_SQL} characters")
    parsed = orjson.loads(con.execute("SELECT json_serialize_sql(?)", [text]).fetchall()[0][0])
    if parsed.get("error"):
        message = str(parsed.get("error_message", "syntax error"))
        if "Only SELECT" in message:
            raise BadRequest("Only SELECT queries can run here (no SET, PRAGMA, COPY, ATTACH, CREATE, ...)")
        raise BadRequest(f"The query is invalid: {message.splitlines()[0][:300]}")
    statements = parsed.get("statements") or []
    if len(statements) != 1:
        raise BadRequest("Run one query at a time")
    node = statements[0]["node"]
    if node.get("type") not in QUERY_NODES:
        raise BadRequest("Only SELECT queries can run here")
    _walk(node, views | _cte_names(node))
    return text


def _cte_names(tree: Any) -> set[str]:
    names: set[str] = set()
    if isinstance(tree, dict):
        for entry in (tree.get("cte_map") or {}).get("map") or []:
            names.add(str(entry.get("key")))
        for value in tree.values():
            names |= _cte_names(value)
    elif isinstance(tree, list):
        for item in tree:
            names |= _cte_names(item)
    return names


def _walk(tree: Any, tables: set[str]) -> None:
    """Every table must be one of `tables`; table functions and revealing functions are refused."""
    if isinstance(tree, list):
        for item in tree:
            _walk(item, tables)
        return
    if not isinstance(tree, dict):
        return
    kind = tree.get("type")
    if kind == "BASE_TABLE":
        name = str(tree.get("table_name", ""))
        if tree.get("schema_name") or tree.get("catalog_name") or name not in tables:
            raise BadRequest(f"Unknown table {name!r}; the tables are {', '.join(sorted(tables)) or 'none'}")
    elif kind == "TABLE_FUNCTION":
        name = str((tree.get("function") or {}).get("function_name", "")).lower()
        if name not in TABLE_FUNCTIONS:
            raise BadRequest(f"Table function {name!r} is not allowed: query the dataset's tables")
    elif tree.get("class") == "FUNCTION":
        name = str(tree.get("function_name", "")).lower()
        if name in DENIED_FUNCTIONS or tree.get("schema") or tree.get("catalog"):
            raise BadRequest(f"Function {name!r} is not allowed")
    for value in tree.values():
        _walk(value, tables)


def run(
    views: dict[str, query.SplitFiles], sql: str, offset: int, length: int, limits: tuple[float, int]
) -> dict[str, Any]:
    """One page of the query's result: columns, rows (lists), and whether more rows follow."""
    if offset < 0 or length < 1:
        raise BadRequest("offset must be >= 0 and length >= 1")
    length = min(length, MAX_LENGTH)
    timeout, memory = limits
    with query.sandbox_views(tuple(views.items()), memory) as con:
        text = check(con, sql, set(views))
        paged = f"SELECT * FROM (\n{text}\n) LIMIT {int(length) + 1} OFFSET {int(offset)}"
        table = query.run(con, paged, [], timeout)
    more = table.num_rows > length
    table = table.slice(0, length)
    rows, truncated = _rows(table)
    columns = [{"name": f.name, "type": str(f.type)} for f in table.schema]
    return {"columns": columns, "rows": rows, "offset": offset, "length": length, "has_more": more,
            "truncated_cells": truncated}  # fmt: skip


def _rows(table: pa.Table) -> tuple[list[list[Any]], list[list[int]]]:
    """JSON-ready rows, and the [row, column] positions of cells that were cut."""
    out, truncated = [], []
    for r, row in enumerate(table.to_pylist()):
        cells = []
        for c, value in enumerate(row.values()):
            value, cut = _jsonable(value)
            cells.append(value)
            if cut:
                truncated.append([r, c])
        out.append(cells)
    return out, truncated


def _jsonable(value: Any) -> tuple[Any, bool]:
    if isinstance(value, str):
        return (value[:MAX_CELL], True) if len(value) > MAX_CELL else (value, False)
    if isinstance(value, bytes):
        shown = value[: MAX_CELL // 2]
        return base64.b64encode(shown).decode(), len(shown) < len(value)
    if isinstance(value, float) and not math.isfinite(value):
        return str(value), False
    if isinstance(value, (datetime.date, datetime.time, datetime.datetime)):
        return value.isoformat(), False
    if isinstance(value, (decimal.Decimal, datetime.timedelta)):
        return str(value), False
    if isinstance(value, dict):
        pairs = {str(k): _jsonable(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(cut for _, cut in pairs.values())
    if isinstance(value, (list, tuple)):
        items = [_jsonable(v) for v in value]
        return [v for v, _ in items], any(cut for _, cut in items)
    return value, False
