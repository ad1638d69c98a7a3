"""The page reader: single rows of a row group, decoded from the data pages holding them, are exactly what
pyarrow reads for those rows, for every column type (flat ones decoded by the reader, others by pyarrow)."""

from __future__ import annotations

import datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from haven.viewer import pages
from haven.viewer.convert import PAGE_BYTES, SplitWriter

ROWS = 20_000  # three row groups of the conversion's 8,000 rows


def _table(n: int, seed: int) -> pa.Table:
    """Columns of many types, with nulls, repeats (dictionary pages) and long and empty strings."""
    rng = np.random.default_rng(seed)
    nulls = rng.random(n) < 0.1
    words = np.array(["", "a", "needle", "é ü", "x" * 300, "tail"])
    text = [None if nulls[i] else f"{words[i % 6]} {rng.integers(0, 10**9)}" for i in range(n)]
    return pa.table(
        {
            "i8": pa.array(rng.integers(-128, 128, n), pa.int8()),
            "i16": pa.array(rng.integers(-(2**15), 2**15, n), pa.int16()),
            "i32": pa.array(rng.integers(-(2**31), 2**31, n), pa.int32(), mask=nulls),
            "i64": pa.array(rng.integers(-(2**62), 2**62, n), pa.int64()),
            "u8": pa.array(rng.integers(0, 256, n), pa.uint8()),
            "u32": pa.array(rng.integers(0, 2**32, n, dtype=np.uint64), pa.uint32()),
            "u64": pa.array(rng.integers(0, 2**64 - 1, n, dtype=np.uint64), pa.uint64()),
            "f32": pa.array(rng.random(n).astype(np.float32), pa.float32()),
            "f64": pa.array(rng.random(n), pa.float64(), mask=nulls),
            "label": pa.array(rng.integers(0, 5, n)),  # few values: dictionary-encoded throughout
            "flag": pa.array(rng.random(n) < 0.5, pa.bool_(), mask=rng.random(n) < 0.2),
            "text": pa.array(text, pa.string()),
            "big": pa.array([t if t is None else t * 3 for t in text], pa.large_string()),
            "raw": pa.array([bytes(rng.integers(0, 256, i % 40, dtype=np.uint8)) for i in range(n)], pa.binary()),
            "day": pa.array(
                [datetime.date(2020, 1, 1) + datetime.timedelta(days=int(d)) for d in rng.integers(0, 999, n)]
            ),
            "at": pa.array(rng.integers(0, 10**9, n), pa.int64()).cast(pa.timestamp("s")),  # stored as ms: pyarrow
            "tags": pa.array([[f"t{j}" for j in range(i % 4)] for i in range(n)]),  # nested: pyarrow
            "pair": pa.array([{"a": i, "b": str(i)} for i in range(n)]),
            "empty": pa.array([None] * n, pa.string()),
        }
    )


def _written_by_the_conversion(directory: Path, table: pa.Table) -> Path:
    writer = SplitWriter(directory, max_bytes=10**12, schema=table.schema)
    for start in range(0, table.num_rows, 1000):
        writer.add(table.slice(start, 1000))
    writer.close()
    return directory / writer.files[0]["filename"]


def _same_as_pyarrow(path: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    file = pq.ParquetFile(path)
    for group in range(file.metadata.num_row_groups):
        n = file.metadata.row_group(group).num_rows
        for size in (1, 3, 40):
            positions = sorted(set(rng.integers(0, n, size).tolist()) | ({0, n - 1} if size > 1 else set()))
            ours = pages.take(str(path), group, positions)
            theirs = file.read_row_group(group).take(positions)
            assert ours.schema == theirs.schema
            assert ours.to_pylist() == theirs.to_pylist(), (group, positions)


def test_rows_read_from_pages_are_those_pyarrow_reads(tmp_path: Path) -> None:
    path = _written_by_the_conversion(tmp_path / "split", _table(ROWS, 1))
    decoded = pages.leaves(pq.read_metadata(path))
    # flat columns are decoded from their pages; timestamps (seconds stored as ms), lists and structs by pyarrow
    assert set(decoded) == {"i8", "i16", "i32", "i64", "u8", "u32", "u64", "f32", "f64", "label", "flag"} | {
        "text",
        "big",
        "raw",
        "day",
        "empty",
    }
    _same_as_pyarrow(path, 2)
    meta = pq.read_metadata(path)
    for group in range(meta.num_row_groups):  # and every one of them is decoded from its pages, none left to pyarrow
        n = meta.row_group(group).num_rows
        assert set(pages.read_flat(str(path), group, [0, n // 2, n - 1])) == set(decoded)


def test_the_conversion_writes_small_pages(tmp_path: Path) -> None:
    path = _written_by_the_conversion(tmp_path / "split", _table(ROWS, 3))
    meta = pq.read_metadata(path)
    text = meta.row_group(0).column(pages.leaves(meta)["text"].index)
    sizes = [size for kind, size in pages.chunk_pages(str(path), text) if kind == pages.DATA_PAGE]
    assert len(sizes) > 8  # an 8,000-row chunk of ~20-byte strings is cut into pages of ~16 KB
    assert max(sizes) <= 2 * PAGE_BYTES


def test_large_pages_are_left_to_pyarrow(tmp_path: Path) -> None:
    path = tmp_path / "older.parquet"  # as converted before pages were small: one ~1 MB page per chunk
    pq.write_table(_table(ROWS, 6).select(["i64", "text"]), path, row_group_size=ROWS, data_page_size=2**20)
    assert set(pages.read_flat(str(path), 0, [0, ROWS - 1])) == {"i64"}  # 160 KB of integers; the text is larger
    _same_as_pyarrow(path, 7)


@pytest.mark.parametrize("compression", ["zstd", "snappy", "gzip", "none"])
def test_files_written_otherwise_read_the_same(tmp_path: Path, compression: str) -> None:
    """Older conversions (one large page per chunk, 64 KB dictionaries) and other codecs: pages too large to
    walk are left to pyarrow, the others decoded."""
    path = tmp_path / "other.parquet"
    pq.write_table(_table(9_000, 4), path, row_group_size=4_500, compression=compression, write_page_index=True)
    _same_as_pyarrow(path, 5)
