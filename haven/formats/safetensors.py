"""safetensors headers: an 8-byte little-endian length, then that many bytes of JSON describing each tensor
(dtype, shape, byte offsets into the data that follows)."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

import orjson

from haven.formats import FormatError, Source, read_exact

MAX_HEADER = 25_000_000  # what huggingface_hub accepts too; real headers are well under 1 MB
MAX_RANK = 64
# Bits per element; dtypes not listed are counted, but their byte sizes cannot be checked.
DTYPE_BITS = {
    "BOOL": 8,
    "U8": 8,
    "I8": 8,
    "F8_E4M3": 8,
    "F8_E5M2": 8,
    "F8_E8M0": 8,
    "I16": 16,
    "U16": 16,
    "F16": 16,
    "BF16": 16,
    "I32": 32,
    "U32": 32,
    "F32": 32,
    "I64": 64,
    "U64": 64,
    "F64": 64,
    "C64": 64,
    "F4": 4,
    "F6_E2M3": 6,
    "F6_E3M2": 6,
}


@dataclass
class Header:
    parameters: dict[str, int] = field(default_factory=dict)  # dtype -> element count
    tensors: int = 0
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(self.parameters.values())


def header_length(source: Source) -> int:
    if source.size < 8:
        raise FormatError("too small to be a safetensors file")
    (length,) = struct.unpack("<Q", read_exact(source, 0, 8, "header length"))
    if length > MAX_HEADER:
        raise FormatError(f"header of {length} bytes is larger than the {MAX_HEADER} accepted")
    if length + 8 > source.size:
        raise FormatError(f"header of {length} bytes lies past the end of the file ({source.size} bytes)")
    return length


def parse(source: Source) -> Header:
    """The parameter counts a safetensors file's header declares, checked against the file's size."""
    length = header_length(source)
    raw = read_exact(source, 8, length, "header")
    try:
        data: Any = orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise FormatError(f"header is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise FormatError("header is not a JSON object")
    body = source.size - 8 - length
    out = Header()
    for name, spec in data.items():
        if name == "__metadata__":
            if isinstance(spec, dict):
                out.metadata = {str(k): str(v)[:1000] for k, v in list(spec.items())[:100]}
            continue
        dtype, count = _tensor(name, spec, body)
        out.parameters[dtype] = out.parameters.get(dtype, 0) + count
        out.tensors += 1
    return out


def _tensor(name: str, spec: Any, body: int) -> tuple[str, int]:
    if not isinstance(spec, dict):
        raise FormatError(f"tensor {name[:100]!r}: not an object")
    dtype, shape, offsets = spec.get("dtype"), spec.get("shape"), spec.get("data_offsets")
    if not isinstance(dtype, str) or not dtype or len(dtype) > 16:
        raise FormatError(f"tensor {name[:100]!r}: bad dtype")
    if not isinstance(shape, list) or len(shape) > MAX_RANK:
        raise FormatError(f"tensor {name[:100]!r}: bad shape")
    count = 1
    for dim in shape:
        if not isinstance(dim, int) or isinstance(dim, bool) or dim < 0:
            raise FormatError(f"tensor {name[:100]!r}: bad shape")
        count *= dim
        if count > body * 8:  # more elements than the file has bits: a lie, and caps the arithmetic
            raise FormatError(f"tensor {name[:100]!r}: shape {shape[:8]} needs more bytes than the file has")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)
    ):
        raise FormatError(f"tensor {name[:100]!r}: bad data_offsets")
    begin, end = offsets
    if not 0 <= begin <= end <= body:
        raise FormatError(f"tensor {name[:100]!r}: data_offsets {offsets} lie outside the file's {body} data bytes")
    bits = DTYPE_BITS.get(dtype)
    if bits is not None and end - begin != (count * bits + 7) // 8:
        raise FormatError(f"tensor {name[:100]!r}: {end - begin} bytes for {count} {dtype} elements")
    return dtype, count
