"""Parquet row counts from the footer alone."""

from __future__ import annotations

import contextlib
import io

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.formats import BytesSource, FormatError, parquet


def _parquet(rows: int, row_group_size: int = 1000) -> bytes:
    buf = io.BytesIO()
    table = pa.table(
        {"n": list(range(rows)), "s": [f"row {i}" for i in range(rows)], "b": [i % 2 == 0 for i in range(rows)]}
    )
    pq.write_table(table, buf, row_group_size=row_group_size)
    return buf.getvalue()


@pytest.mark.parametrize("rows", [0, 1, 2500, 70_001])
def test_row_count(rows: int) -> None:
    assert parquet.num_rows(BytesSource(_parquet(rows))) == rows


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PAR1", "too small"),
        (b"x" * 20, "no PAR1"),
        (b"PAR1" + b"\x00" * 8 + b"\xff\xff\xff\x7fPAR1", "does not fit"),
        (b"PAR1" + b"\x00" * 8 + b"\x00\x00\x00\x00PAR1", "ends early"),
        (b"PAR1\x00" + b"\x15\x00" + b"\x00\x00" + b"\x03\x00\x00\x00PAR1", "no num_rows"),
    ],
)
def test_corrupt_footers(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        parquet.num_rows(BytesSource(data))


_REAL = _parquet(10)


@settings(max_examples=200, deadline=1000)
@given(st.integers(0, 10_000), st.binary(min_size=1, max_size=8))
def test_fuzz_corrupted_footer(position: int, garbage: bytes) -> None:
    data = bytearray(_REAL)
    position = len(data) - 8 - (position % 200)
    data[position : position + len(garbage)] = garbage
    with contextlib.suppress(FormatError):
        parquet.num_rows(BytesSource(bytes(data)))
