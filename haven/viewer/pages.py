"""Single rows out of a Parquet row group, decoding only the data pages that hold them.

pyarrow reads a column chunk whole: one row of an 8,000-row group costs the decompression and decoding of
all 8,000, which is most of a page of /search rows spread over many row groups (a rare word's 100 rows sit
in ~100 row groups). The conversion writes small data pages (~16 KB, see convert.py), so a row's value is in
one of them: the page headers of the chunk are walked (compact Thrift, a few fields each) and only the page
holding the row (and the chunk's dictionary page, if its values are dictionary-encoded) is decompressed.

Only what the conversion writes for flat columns is decoded here: data pages v1, PLAIN and RLE_DICTIONARY,
required or optional primitive columns (integers, floats, booleans, strings, binaries, dates). Any other
column (nested, timestamps, decimals, other encodings, or pages too large to be worth walking) is read by
pyarrow as before, so every answer is the one pyarrow gives."""

from __future__ import annotations

import os
import struct
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from haven.viewer.splits import footer

MAX_WALK = 2_048  # values walked in one PLAIN BYTE_ARRAY page; beyond this pyarrow's whole-chunk read is quicker
MAX_PAGE = 256 * 1024  # a larger page (files converted before pages were small) is as quick for pyarrow to read
CODECS = {
    "UNCOMPRESSED": None,
    "ZSTD": "zstd",
    "SNAPPY": "snappy",
    "GZIP": "gzip",
    "BROTLI": "brotli",
    "LZ4_RAW": "lz4_raw",
}
PLAIN, PLAIN_DICTIONARY, RLE_DICTIONARY = 0, 2, 8
DATA_PAGE, DICTIONARY_PAGE = 0, 2
FIXED = {"INT32": "<i", "INT64": "<q", "FLOAT": "<f", "DOUBLE": "<d"}
# Arrow types whose Parquet physical type holds the value as is (timestamps are not: seconds are stored as ms).
PHYSICAL: dict[str, Callable[[pa.DataType], bool]] = {
    "INT32": lambda t: (
        pa.types.is_int8(t)
        or pa.types.is_int16(t)
        or pa.types.is_int32(t)
        or pa.types.is_uint8(t)
        or pa.types.is_uint16(t)
        or pa.types.is_uint32(t)
        or pa.types.is_date32(t)
    ),
    "INT64": lambda t: pa.types.is_int64(t) or pa.types.is_uint64(t),
    "FLOAT": pa.types.is_float32,
    "DOUBLE": pa.types.is_float64,
    "BOOLEAN": pa.types.is_boolean,
    "BYTE_ARRAY": lambda t: (
        pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_binary(t) or pa.types.is_large_binary(t)
    ),
}


class Unsupported(Exception):
    """This column chunk is not one the page reader decodes: pyarrow reads it."""


@dataclass(frozen=True)
class Leaf:
    """A flat column the page reader can decode: its leaf index in the file, physical type and definition level."""

    index: int
    physical: str
    max_def: int
    type: pa.DataType


@lru_cache(maxsize=256)
def layout(path: str) -> tuple[pa.Schema, dict[str, Leaf]]:
    """A file's Arrow schema and decodable columns (files are immutable: worked out once per process)."""
    meta = footer(path)
    return meta.schema.to_arrow_schema(), leaves(meta)


def leaves(meta: pq.FileMetaData) -> dict[str, Leaf]:
    """The file's top-level columns that are flat and of a supported type, by name."""
    schema, out, leaf = meta.schema.to_arrow_schema(), {}, 0
    for field in schema:
        n = _leaf_count(field.type)
        column = meta.schema.column(leaf)
        if (
            n == 1
            and column.max_repetition_level == 0
            and column.max_definition_level <= 1
            and column.path == field.name
            and PHYSICAL.get(column.physical_type, lambda _: False)(field.type)
        ):
            out[field.name] = Leaf(leaf, column.physical_type, column.max_definition_level, field.type)
        leaf += n
    return out


def _leaf_count(kind: pa.DataType) -> int:
    if pa.types.is_struct(kind):
        return sum(_leaf_count(kind.field(i).type) for i in range(kind.num_fields))
    if pa.types.is_map(kind):
        return _leaf_count(kind.key_type) + _leaf_count(kind.item_type)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _leaf_count(kind.value_type)
    return 1


def take(path: str, group: int, positions: list[int]) -> pa.Table:
    """Rows `positions` (sorted, distinct) of row group `group`, as pyarrow's read_row_group(...).take(...)."""
    schema = layout(path)[0]
    arrays: dict[str, Any] = read_flat(path, group, positions)
    rest = [n for n in schema.names if n not in arrays]
    if rest:
        table = pq.ParquetFile(path, metadata=footer(path)).read_row_group(group, columns=rest).take(positions)
        arrays.update({n: table.column(n) for n in rest})
    return pa.table([arrays[n] for n in schema.names], schema=schema)


def read_flat(path: str, group: int, positions: list[int]) -> dict[str, pa.Array]:
    """The values at `positions` of the columns decoded from their pages (the others are left out)."""
    meta, (_, flat) = footer(path), layout(path)
    arrays: dict[str, pa.Array] = {}
    with open(path, "rb") as f:
        for name, leaf in flat.items():
            try:
                arrays[name] = _column(f.fileno(), meta.row_group(group).column(leaf.index), leaf, positions)
            except Unsupported:
                continue
    return arrays


def chunk_pages(path: str, chunk: Any) -> list[tuple[int, int]]:
    """(page type, uncompressed size) of each page of a column chunk: what the writer made of it."""
    with open(path, "rb") as f:
        buf = os.pread(f.fileno(), chunk.total_compressed_size, _chunk_start(chunk))
    out, pos = [], 0
    while pos < len(buf):
        header, pos = _struct(buf, pos)
        out.append((header.get(1, -1), header.get(2, 0)))
        pos += header.get(3, 0)
    return out


def _chunk_start(chunk: Any) -> int:
    start = chunk.data_page_offset
    if chunk.has_dictionary_page and chunk.dictionary_page_offset:
        start = min(start, chunk.dictionary_page_offset)
    return start


def _column(fd: int, chunk: Any, leaf: Leaf, positions: list[int]) -> pa.Array:
    """The values at `positions` of one column chunk, decoding only the pages holding them."""
    codec = CODECS.get(chunk.compression, "unknown")
    if codec == "unknown":
        raise Unsupported(chunk.compression)
    buf = memoryview(os.pread(fd, chunk.total_compressed_size, _chunk_start(chunk)))
    values: list[Any] = []
    dictionary_page: tuple[memoryview, int] | None = None
    pos, first, wanted = 0, 0, 0
    while wanted < len(positions):
        if pos >= len(buf):
            raise Unsupported("rows beyond the chunk")
        kind, size, body_size, inner, pos = _page_header(buf, pos)
        start, pos = pos, pos + body_size
        if kind == DICTIONARY_PAGE:
            dictionary_page = (buf[start:pos], size)  # decompressed only if a wanted value is dictionary-encoded
            continue
        if kind != DATA_PAGE:
            if kind == 3:
                raise Unsupported("data page v2")
            continue
        count = inner[1]
        if positions[wanted] >= first + count:
            first += count
            continue
        if size > MAX_PAGE:
            raise Unsupported("page too large to be worth decoding here")
        page = _decompress(buf[start:pos], size, codec)
        here = []
        while wanted < len(positions) and positions[wanted] < first + count:
            here.append(positions[wanted] - first)
            wanted += 1
        values += _page_values(page, inner, count, here, leaf, lambda d=dictionary_page: _dictionary(d, codec))
        first += count
    return _array(values, leaf)


def _page_header(buf: memoryview, pos: int) -> tuple[int, int, int, dict[int, Any], int]:
    """A PageHeader's type, uncompressed and compressed sizes and the fields of its data or dictionary page
    header, and where the page's bytes start."""
    header, pos = _struct(buf, pos)
    inner = header.get(5) or header.get(7) or header.get(8) or {}
    return header.get(1, -1), header.get(2, 0), header.get(3, 0), inner, pos


def _dictionary(page: tuple[bytes, int] | None, codec: str | None) -> memoryview:
    if page is None:
        raise Unsupported("dictionary-encoded values without a dictionary page")
    if page[1] > MAX_PAGE:
        raise Unsupported("dictionary too large to be worth decoding here")
    return _decompress(page[0], page[1], codec)


def _page_values(
    page: memoryview,
    header: dict[int, Any],
    count: int,
    here: list[int],
    leaf: Leaf,
    dictionary: Callable[[], memoryview],
) -> list[Any]:
    """Values at positions `here` of a v1 data page of `count` values (None for nulls)."""
    pos, wanted = 0, list(here)
    if leaf.max_def:
        (length,) = struct.unpack_from("<I", page, 0)
        levels = _hybrid_at(page, 4, 4 + length, 1, here, prefix=True)  # (level, non-null values before it)
        pos = 4 + length
        wanted = [before if level else None for level, before in levels]
    encoding = header.get(2)
    if encoding == PLAIN:
        return _plain(page, pos, leaf.physical, wanted)
    if encoding in (PLAIN_DICTIONARY, RLE_DICTIONARY):
        present = [k for k in wanted if k is not None]
        found = dict(
            zip(present, (v for v, _ in _hybrid_at(page, pos + 1, len(page), page[pos], present)), strict=True)
        )
        return _plain(dictionary(), 0, leaf.physical, [None if k is None else found[k] for k in wanted])
    raise Unsupported(f"encoding {encoding}")


def _plain(data: bytes, pos: int, physical: str, wanted: list[int | None]) -> list[Any]:
    """PLAIN-encoded values number `wanted` (None stays None) of a buffer starting at `pos`."""
    if physical in FIXED:
        fmt = FIXED[physical]
        width = struct.calcsize(fmt)
        return [None if k is None else struct.unpack_from(fmt, data, pos + k * width)[0] for k in wanted]
    if physical == "BOOLEAN":
        return [None if k is None else bool(data[pos + k // 8] >> (k % 8) & 1) for k in wanted]
    last = max((k for k in wanted if k is not None), default=-1)
    if last >= MAX_WALK:
        raise Unsupported("page too large to walk")
    starts: list[int] = []
    for _ in range(last + 1):  # BYTE_ARRAY: each value is a 4-byte length and its bytes
        starts.append(pos)
        pos += 4 + struct.unpack_from("<I", data, pos)[0]
    out: list[Any] = []
    for k in wanted:
        if k is None:
            out.append(None)
            continue
        (n,) = struct.unpack_from("<I", data, starts[k])
        out.append(bytes(data[starts[k] + 4 : starts[k] + 4 + n]))
    return out


def _array(values: list[Any], leaf: Leaf) -> pa.Array:
    kind = leaf.type
    if pa.types.is_uint64(kind) or pa.types.is_uint32(kind):
        mask = (1 << (64 if pa.types.is_uint64(kind) else 32)) - 1
        values = [None if v is None else v & mask for v in values]
    if leaf.physical == "BYTE_ARRAY":
        return pa.array(values, pa.large_binary()).cast(kind)
    if pa.types.is_date32(kind):
        return pa.array(values, pa.int32()).cast(kind)
    return pa.array(values, kind)


def _decompress(body: memoryview, size: int, codec: str | None) -> memoryview:
    if codec is None:
        return body
    return memoryview(_codec(codec).decompress(body, decompressed_size=size)).cast("B")  # bytes, not signed chars


@cache
def _codec(name: str) -> pa.Codec:
    return pa.Codec(name)


def _hybrid_at(
    data: memoryview, pos: int, end: int, width: int, at: list[int], prefix: bool = False
) -> list[tuple[int, int]]:
    """Values number `at` (sorted) of an RLE / bit-packed hybrid run sequence of `width`-bit values, walking
    the runs without decoding the others; with `prefix`, also the sum of the values before each (for
    definition levels: the index of the value among the non-null ones)."""
    out: list[tuple[int, int]] = []
    first = total = 0  # the first value number of the current run; the sum of the values before it
    size = (width + 7) // 8
    i = 0
    while i < len(at):
        if pos >= end:
            raise Unsupported("run sequence shorter than its values")
        header, pos = _varint(data, pos)
        if header & 1:  # bit-packed: (header >> 1) groups of 8 values, least significant bit first
            n, nbytes = (header >> 1) * 8, (header >> 1) * width
            if pos + nbytes > end:
                raise Unsupported("truncated bit-packed run")
            bits = int.from_bytes(data[pos : pos + nbytes], "little")
            mask = (1 << width) - 1
            while i < len(at) and at[i] < first + n:
                k = at[i] - first
                below = (bits & ((1 << k) - 1)).bit_count() if prefix else 0  # width 1 when prefixes are asked
                out.append(((bits >> (k * width)) & mask, total + below))
                i += 1
            total += bits.bit_count() if prefix else 0
            pos += nbytes
        else:  # a run of one value
            n = header >> 1
            value = int.from_bytes(data[pos : pos + size], "little")
            pos += size
            while i < len(at) and at[i] < first + n:
                out.append((value, total + value * (at[i] - first)))
                i += 1
            total += value * n
        first += n
    return out


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7


def _zigzag(n: int) -> int:
    return (n >> 1) ^ -(n & 1)


def _struct(data: memoryview, pos: int) -> tuple[dict[int, Any], int]:
    """A compact-protocol Thrift struct as {field id: value} (nested structs as dicts, lists as lists); integers
    and structs are read here, not through _value, as page headers (most of a walk over a chunk) are little else."""
    out: dict[int, Any] = {}
    field = 0
    while True:
        byte = data[pos]
        pos += 1
        if byte == 0:
            return out, pos
        delta, kind = byte >> 4, byte & 0x0F
        if delta:
            field += delta
        else:
            raw, pos = _varint(data, pos)
            field = _zigzag(raw)
        if 4 <= kind <= 6:
            raw, pos = _varint(data, pos)
            out[field] = (raw >> 1) ^ -(raw & 1)
        elif kind == 12:
            out[field], pos = _struct(data, pos)
        else:
            out[field], pos = _value(data, pos, kind)


def _value(data: bytes, pos: int, kind: int) -> tuple[Any, int]:
    if kind in (1, 2):  # booleans are in the type nibble
        return kind == 1, pos
    if kind == 3:
        return data[pos], pos + 1
    if kind in (4, 5, 6):
        raw, pos = _varint(data, pos)
        return _zigzag(raw), pos
    if kind == 7:
        return struct.unpack_from("<d", data, pos)[0], pos + 8
    if kind == 8:
        n, pos = _varint(data, pos)
        return data[pos : pos + n], pos + n
    if kind in (9, 10):
        head = data[pos]
        pos += 1
        n, element = head >> 4, head & 0x0F
        if n == 15:
            n, pos = _varint(data, pos)
        items = []
        for _ in range(n):
            item, pos = _value(data, pos, element)
            items.append(item)
        return items, pos
    if kind == 12:
        return _struct(data, pos)
    raise Unsupported(f"thrift type {kind}")
