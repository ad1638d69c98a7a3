"""Column statistics (/statistics), computed by the conversion child once per split with DuckDB and stored
with the split: null counts, min/max/mean/median/std and a histogram for numbers and string lengths,
frequencies for labels, booleans and short-vocabulary strings."""

from __future__ import annotations

import math
from typing import Any

BINS = 10
MAX_LABELS = 30  # strings with at most this many distinct values are treated as labels


def compute(con: Any, features: dict[str, Any]) -> list[dict[str, Any]]:
    """Statistics of every supported column of the view `data`."""
    total = int(con.sql("SELECT count(*) FROM data").fetchall()[0][0])
    out = []
    for name, feature in features.items():
        kind = _kind(feature)
        if kind is None:
            continue
        col = '"' + name.replace('"', '""') + '"'
        stats = _column(con, col, kind, feature, total)
        if stats is not None:
            out.append({"column_name": name, "column_type": stats.pop("_type", kind), "column_statistics": stats})
    return out


def _kind(feature: Any) -> str | None:
    if not isinstance(feature, dict):
        return "list" if isinstance(feature, list) else None
    t = feature.get("_type")
    if t == "ClassLabel":
        return "class_label"
    if t in ("List", "LargeList", "Sequence"):
        return "list"
    dtype = str(feature.get("dtype", "")) if t == "Value" else ""
    if dtype.startswith(("int", "uint")):
        return "int"
    if dtype.startswith("float"):
        return "float"
    if dtype == "bool":
        return "bool"
    if dtype in ("string", "large_string"):
        return "string"
    return None


def _column(con: Any, col: str, kind: str, feature: Any, total: int) -> dict[str, Any] | None:
    nulls = int(con.sql(f"SELECT count(*) FROM data WHERE {col} IS NULL").fetchall()[0][0])
    base = {"nan_count": nulls, "nan_proportion": round(nulls / total, 5) if total else 0.0}
    if kind in ("int", "float"):
        return {**base, **_numbers(con, col, kind == "int")}
    if kind == "bool":
        return {**base, "frequencies": _frequencies(con, f"CAST({col} AS VARCHAR)")}
    if kind == "class_label":
        names = feature.get("names") or []
        freq = _frequencies(con, col)
        labelled = {names[int(k)] if 0 <= int(k) < len(names) else k: v for k, v in freq.items() if int(k) >= 0}
        no_label = sum(v for k, v in freq.items() if int(k) < 0)
        return {**base, "no_label_count": no_label, "n_unique": len(labelled), "frequencies": labelled}
    if kind == "list":
        return {**base, **_numbers(con, f"len({col})", True)}
    unique = int(con.sql(f"SELECT approx_count_distinct({col}) FROM data").fetchall()[0][0])
    if unique <= MAX_LABELS:
        return {**base, "_type": "string_label", "n_unique": unique, "frequencies": _frequencies(con, col)}
    return {**base, "_type": "string_text", **_numbers(con, f"length({col})", True)}


def _frequencies(con: Any, expr: str) -> dict[str, int]:
    rows = con.sql(
        f"SELECT CAST({expr} AS VARCHAR), count(*) FROM data WHERE {expr} IS NOT NULL GROUP BY 1 ORDER BY 2 DESC "
        f"LIMIT {MAX_LABELS * 4}"
    ).fetchall()
    return {str(k): int(v) for k, v in rows}


def _numbers(con: Any, expr: str, integer: bool) -> dict[str, Any]:
    where = f"{expr} IS NOT NULL" + ("" if integer else f" AND NOT isnan({expr}) AND NOT isinf({expr})")
    lo, hi, mean, median, std = con.sql(
        f"SELECT min({expr}), max({expr}), avg({expr}), approx_quantile({expr}, 0.5), stddev_samp({expr}) FROM data WHERE {where}"
    ).fetchall()[0]
    out: dict[str, Any] = {"min": lo, "max": hi, "mean": _round(mean), "median": _round(median), "std": _round(std)}
    if lo is None:
        return {**out, "histogram": None}
    width = max(math.ceil((hi - lo + 1) / BINS), 1) if integer else ((hi - lo) / BINS or 1.0)
    edges = [lo + i * width for i in range(BINS + 1)]
    counts = dict(
        con.sql(
            f"SELECT least(CAST(floor(({expr} - ?) / ?) AS BIGINT), {BINS - 1}), count(*) FROM data "
            f"WHERE {where} GROUP BY 1",
            params=[lo, width],
        ).fetchall()
    )
    used = max(counts) + 1 if counts else 0
    hist = [int(counts.get(i, 0)) for i in range(used)]
    bin_edges = [int(e) if integer else _round(e) for e in edges[:used]] + [hi]
    return {**out, "histogram": {"hist": hist, "bin_edges": bin_edges}}


def _round(value: Any) -> Any:
    return None if value is None else round(float(value), 5)
