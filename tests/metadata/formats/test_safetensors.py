"""The safetensors header parser: exact counts for real files, a FormatError (fast) for anything else."""

from __future__ import annotations

import contextlib
import struct

import numpy as np
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.formats import BytesSource, FormatError, safetensors
from tests.metadata.conftest import safetensors_bytes


def _file(header: object, data: int = 0) -> bytes:
    raw = orjson.dumps(header)
    return struct.pack("<Q", len(raw)) + raw + bytes(data)


def test_counts_parameters_per_dtype() -> None:
    data = safetensors_bytes(
        {"a": ((2, 3, 4), np.float32), "b": ((5,), np.int8), "c": ((0, 9), np.float16), "d": ((), np.float64)}
    )
    header = safetensors.parse(BytesSource(data))
    assert header.parameters == {"F32": 24, "I8": 5, "F16": 0, "F64": 1}
    assert header.total == 30 and header.tensors == 4


def test_metadata_is_kept() -> None:
    header = safetensors.parse(BytesSource(_file({"__metadata__": {"format": "pt"}})))
    assert header.metadata == {"format": "pt"} and header.total == 0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"short", "too small"),
        (struct.pack("<Q", 1 << 63), "larger than"),
        (struct.pack("<Q", 100) + b"{}", "past the end"),
        (struct.pack("<Q", 2) + b"[]", "not a JSON object"),
        (struct.pack("<Q", 3) + b"{]}", "not JSON"),
        (_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, data=4), "outside"),
        (_file({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, data=8), "4 bytes for 2 F32"),
        (_file({"w": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, data=8), "bad shape"),
        (_file({"w": {"dtype": "F32", "shape": [True], "data_offsets": [0, 4]}}, data=8), "bad shape"),
        (_file({"w": {"dtype": "F32", "shape": [1] * 65, "data_offsets": [0, 4]}}, data=8), "bad shape"),
        (_file({"w": {"dtype": "F32", "shape": [1 << 62, 1 << 62], "data_offsets": [0, 4]}}, data=8), "more bytes"),
        (_file({"w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 0]}}, data=8), "outside"),
        (_file({"w": {"dtype": 7, "shape": [1], "data_offsets": [0, 4]}}, data=8), "bad dtype"),
        (_file({"w": [1, 2]}), "not an object"),
    ],
)
def test_corrupt_and_lying_headers(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        safetensors.parse(BytesSource(data))


@settings(max_examples=300, deadline=1000)
@given(st.binary(max_size=200))
def test_fuzz_arbitrary_bytes_never_escape_as_other_errors(data: bytes) -> None:
    with contextlib.suppress(FormatError):
        safetensors.parse(BytesSource(data))


_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=1000)
@given(st.dictionaries(st.text(max_size=10), _json, max_size=5), st.integers(0, 64))
def test_fuzz_arbitrary_headers(header: dict, data: int) -> None:  # type: ignore[type-arg]
    try:
        out = safetensors.parse(BytesSource(_file(header, data)))
    except FormatError:
        return
    assert out.total >= 0
