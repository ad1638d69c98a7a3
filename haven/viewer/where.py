"""Checking a user's filter before DuckDB runs it: a WHERE clause over the split's columns, nothing more.

DuckDB parses the clause (as part of the exact query text that will run); the tree must be one plain SELECT
from `data` whose WHERE uses only columns, constants, comparisons, boolean logic and a short list of pure
functions. Subqueries, table functions, stars and unknown names are refused, so the clause cannot reach
another table or file even before the sandboxed connection (query.py) would refuse it."""

from __future__ import annotations

import re
from typing import Any

import orjson

from haven.errors import BadRequest

MAX_WHERE = 2000
PREFIX = "SELECT * FROM data WHERE (\n"
SUFFIX = "\n)"
EXPRESSIONS = {"CONJUNCTION", "COMPARISON", "CONSTANT", "COLUMN_REF", "OPERATOR", "BETWEEN", "CAST", "CASE"}
FUNCTIONS = {
    "~~", "!~~", "~~*", "!~~*", "+", "-", "*", "/", "%", "//", "||",
    "lower", "upper", "length", "strlen", "abs", "round", "floor", "ceil", "contains", "starts_with",
    "ends_with", "prefix", "suffix", "coalesce", "trim", "year", "month", "day", "len", "array_length",
    "list_contains", "regexp_matches", "isnan", "isinf",
}  # fmt: skip
ORDER = re.compile(r'^\s*("(?:[^"]|"")+"|[A-Za-z_][A-Za-z0-9_]*)(?:\s+(ASC|DESC))?\s*$', re.I)


def check_where(con: Any, where: str, columns: set[str]) -> str:
    """The clause, if safe to embed between PREFIX and SUFFIX; BadRequest saying why not otherwise."""
    if not where.strip():
        raise BadRequest("Parameter 'where' is required")
    if len(where) > MAX_WHERE:
        raise BadRequest(f"Parameter 'where' is longer than {MAX_WHERE} characters")
    parsed = orjson.loads(con.execute("SELECT json_serialize_sql(?)", [PREFIX + where + SUFFIX]).fetchall()[0][0])
    if parsed.get("error"):
        raise BadRequest(f"Parameter 'where' is invalid: {parsed.get('error_message', 'syntax error')}")
    statements = parsed.get("statements") or []
    node = statements[0]["node"] if len(statements) == 1 else {}
    if not _plain_select(node):
        raise BadRequest("Parameter 'where' must be a condition on the columns, not more SQL")
    _walk(node["where_clause"], columns)
    return where


def _plain_select(node: dict[str, Any]) -> bool:
    source = node.get("from_table") or {}
    return (
        node.get("type") == "SELECT_NODE"
        and not node.get("modifiers")
        and not (node.get("cte_map") or {}).get("map")
        and not node.get("group_expressions")
        and node.get("having") is None
        and node.get("qualify") is None
        and node.get("sample") is None
        and source.get("type") == "BASE_TABLE"
        and source.get("table_name") == "data"
        and not source.get("schema_name")
        and not source.get("catalog_name")
        and node.get("where_clause") is not None
    )


def _walk(expr: Any, columns: set[str]) -> None:
    """Every expression in the tree must be of an allowed kind; columns must exist."""
    if isinstance(expr, list):
        for item in expr:
            _walk(item, columns)
        return
    if not isinstance(expr, dict):
        return
    kind = expr.get("class")
    if kind is not None:
        if kind == "FUNCTION":
            name = str(expr.get("function_name", "")).lower()
            if name not in FUNCTIONS or expr.get("schema") or expr.get("catalog"):
                raise BadRequest(f"Function {name!r} is not allowed in a filter")
        elif kind == "COLUMN_REF":
            names = expr.get("column_names") or []
            if len(names) != 1 or names[0] not in columns:
                raise BadRequest(f"Unknown column {'.'.join(names)!r}")
        elif kind not in EXPRESSIONS:
            raise BadRequest(f"{kind.lower()} expressions are not allowed in a filter")
    for key, value in expr.items():
        if key not in ("class", "type", "alias", "function_name", "column_names", "literal"):
            _walk(value, columns)


def check_orderby(orderby: str, columns: set[str]) -> str:
    """`column [ASC|DESC]`, the column quoted for DuckDB; empty when not given."""
    if not orderby.strip():
        return ""
    m = ORDER.match(orderby)
    if not m:
        raise BadRequest("Parameter 'orderby' must be a column name, optionally followed by ASC or DESC")
    name = m.group(1)
    name = name[1:-1].replace('""', '"') if name.startswith('"') else name
    if name not in columns:
        raise BadRequest(f"Unknown column {name!r} in 'orderby'")
    return f"{quote(name)} {(m.group(2) or 'ASC').upper()}"


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
