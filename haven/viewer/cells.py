"""Turning Arrow rows into the datasets-server JSON rows: features listed with their types, huge cells cut
(and named in `truncated_cells`), media cells replaced by a URL the viewer serves them from."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import orjson
import pyarrow as pa

MAX_CELL = 10_000  # characters of one string cell (or JSON of one nested cell) in a response
MEDIA = ("Image", "Audio")


def features_list(features: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"feature_idx": i, "name": name, "type": ftype} for i, (name, ftype) in enumerate(features.items())]


def rows_json(
    table: pa.Table, features: dict[str, Any], first_idx: int | None, asset: dict[str, str], row_idx: str | None = None
) -> list[dict[str, Any]]:
    """JSON rows; row_idx from the `row_idx` column when given, else counted from `first_idx`."""
    indexes = table.column(row_idx).to_pylist() if row_idx else None
    out = []
    for n, record in enumerate(table.drop_columns([row_idx]).to_pylist() if row_idx else table.to_pylist()):
        idx = indexes[n] if indexes is not None else (first_idx or 0) + n
        row, truncated = {}, []
        for name, value in record.items():
            row[name], cut = _cell(value, features.get(name) or {}, asset, idx, name)
            if cut:
                truncated.append(name)
        out.append({"row_idx": idx, "row": row, "truncated_cells": truncated})
    return out


def _cell(value: Any, feature: Any, asset: dict[str, str], idx: int, column: str) -> tuple[Any, bool]:
    kind = feature.get("_type") if isinstance(feature, dict) else None
    if kind in MEDIA:
        if value is None:
            return None, False
        query = urlencode({**{k: v for k, v in asset.items() if k != "base"}, "row": idx, "column": column})
        return {"src": f"{asset['base']}?{query}", "path": value.get("path")}, False
    if kind == "Json" and isinstance(value, str | bytes):
        if len(value) > MAX_CELL:
            return (value.decode("utf-8", "ignore") if isinstance(value, bytes) else value)[:MAX_CELL], True
        value = orjson.loads(value)  # a column of mixed types: each cell is a JSON document
    if isinstance(value, bytes):
        return None, True  # raw binary is not shown
    if isinstance(value, str):
        return (value[:MAX_CELL], True) if len(value) > MAX_CELL else (value, False)
    if isinstance(value, list | dict):
        encoded = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY, default=str)
        if len(encoded) > MAX_CELL:
            return encoded[:MAX_CELL].decode("utf-8", "ignore"), True
    return value, False


MAGIC = {b"\x89PNG": "image/png", b"\xff\xd8\xff": "image/jpeg", b"GIF8": "image/gif", b"BM": "image/bmp",
         b"fLaC": "audio/flac", b"OggS": "audio/ogg", b"ID3": "audio/mpeg"}  # fmt: skip


def media_type(data: bytes) -> str:
    """The type of a media cell's bytes, from their first bytes (never from a name a dataset chose)."""
    if data[:4] == b"RIFF":
        return {b"WEBP": "image/webp", b"WAVE": "audio/wav"}.get(data[8:12], "application/octet-stream")
    return next((t for magic, t in MAGIC.items() if data.startswith(magic)), "application/octet-stream")


MEDIA_HEADERS = {"Content-Security-Policy": "sandbox", "X-Content-Type-Options": "nosniff", "Cache-Control": "private"}
