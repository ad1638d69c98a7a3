"""The GGUF header parser, on files the `gguf` package writes and on corrupt or lying ones."""

from __future__ import annotations

import contextlib
import struct
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haven.formats import BytesSource, FormatError, gguf
from tests.metadata.conftest import gguf_bytes


def test_summary_of_a_real_file(tmp_path: Path) -> None:
    data = gguf_bytes(tmp_path, context_length=8192, arch="qwen2")
    header = gguf.parse(BytesSource(data))
    assert header.version == 3 and header.tensors == 2
    assert header.tensor_types == {"F16": 1, "F32": 1}
    summary = header.summary(len(data))
    assert summary["total"] == 96 and summary["architecture"] == "qwen2" and summary["context_length"] == 8192
    assert (summary["file_type"], summary["name"], summary["bos_token"], summary["eos_token"]) == (
        "F16",
        "tiny",
        "<s>",
        "</s>",
    )


def test_quantized_tensor_sizes_are_checked(tmp_path: Path) -> None:
    import gguf as gguf_pkg

    path = tmp_path / "q.gguf"
    writer = gguf_pkg.GGUFWriter(str(path), "llama")
    q8 = np.zeros((2, 34), np.uint8)  # two Q8_0 blocks of 32 values, stored as raw bytes
    writer.add_tensor("q", q8, raw_dtype=gguf_pkg.GGMLQuantizationType.Q8_0)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    data = path.read_bytes()
    header = gguf.parse(BytesSource(data))
    assert header.parameters == 64 and header.tensor_types == {"Q8_0": 1}
    with pytest.raises(FormatError, match="past the end"):
        gguf.parse(BytesSource(data[:-40]))  # truncated: the tensor's data no longer fits


def _gguf(*parts: bytes) -> bytes:
    return b"GGUF" + b"".join(parts)


def _s(text: bytes) -> bytes:
    return struct.pack("<Q", len(text)) + text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"GGU", "bad magic"),
        (b"GGML" + bytes(20), "bad magic"),
        (_gguf(struct.pack("<IQQ", 1, 0, 0)), "unsupported GGUF version 1"),
        (_gguf(struct.pack("<IQQ", 3, 1 << 50, 0)), "cannot fit"),
        (_gguf(struct.pack("<IQQ", 3, 0, 1 << 50)), "cannot fit"),
        (_gguf(struct.pack("<IQQ", 3, 0, 1), struct.pack("<Q", 1 << 60), bytes(16)), "past the end"),
        (_gguf(struct.pack("<IQQ", 3, 0, 1), _s(b"k"), struct.pack("<II", 8, 0)), "past the end"),
        (_gguf(struct.pack("<IQQ", 3, 0, 1), _s(b"k"), struct.pack("<IIQ", 9, 8, 1 << 40)), "cannot fit"),
        (_gguf(struct.pack("<IQQ", 3, 0, 1), _s(b"k"), struct.pack("<IIQ", 9, 6, 1 << 40)), "past the end"),
        (_gguf(struct.pack("<IQQ", 3, 0, 1), _s(b"k"), struct.pack("<I", 99)), "unknown value type"),
        (_gguf(struct.pack("<IQQ", 3, 0, 1), _s(b"general.alignment"), struct.pack("<II", 4, 3)), "alignment"),
        (_gguf(struct.pack("<IQQ", 3, 1, 0), _s(b"t"), struct.pack("<I", 99), bytes(32)), "dimensions"),
        (
            _gguf(struct.pack("<IQQ", 3, 1, 0), _s(b"t"), struct.pack("<IQIQ", 1, 1 << 40, 0, 0), bytes(32)),
            "cannot fit",
        ),
        (
            _gguf(struct.pack("<IQQ", 3, 1, 0), _s(b"t"), struct.pack("<IQIQ", 1, 8, 0, 1 << 40), bytes(32)),
            "past the end",
        ),
        (
            _gguf(struct.pack("<IQQ", 3, 1, 0), _s(b"t"), struct.pack("<IQIQ", 1, 31, 8, 0), bytes(64)),
            "whole Q8_0 blocks",
        ),
    ],
)
def test_corrupt_and_lying_headers(data: bytes, message: str) -> None:
    with pytest.raises(FormatError, match=message):
        gguf.parse(BytesSource(data))


def test_nested_arrays_are_bounded() -> None:
    nested = struct.pack("<IQ", 9, 1) * 10 + struct.pack("<IQ", 4, 0)
    data = _gguf(struct.pack("<IQQ", 3, 0, 1), _s(b"k"), struct.pack("<I", 9), nested, bytes(64))
    with pytest.raises(FormatError, match="nested too deeply"):
        gguf.parse(BytesSource(data))


@settings(max_examples=300, deadline=1000, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes_after_the_magic(tail: bytes) -> None:
    with contextlib.suppress(FormatError):
        gguf.parse(BytesSource(b"GGUF" + struct.pack("<I", 3) + tail))


@settings(max_examples=100, deadline=2000)
@given(st.integers(0, 900), st.binary(min_size=1, max_size=8))
def test_fuzz_corrupted_real_file(position: int, garbage: bytes) -> None:
    data = bytearray(_REAL)
    position %= len(data)
    data[position : position + len(garbage)] = garbage
    with contextlib.suppress(FormatError):
        gguf.parse(BytesSource(bytes(data)))


def _real() -> bytes:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return gguf_bytes(Path(tmp))


_REAL = _real()
