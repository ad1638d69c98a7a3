"""GGUF headers (versions 2 and 3, little-endian): magic, version, tensor and key-value counts, the typed
key-value metadata, then one record per tensor (name, dimensions, ggml type, offset into the data).

The parse reads the header front to back through a small window, refusing counts and lengths that the
bytes left could not hold, so a file that claims a billion strings fails at once instead of allocating."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import Any

from haven.formats import FormatError, Source

MAX_HEADER = 128 * 1024 * 1024  # bytes of metadata and tensor records read at most (big vocabularies: ~10 MB)
MAX_DIMS = 8
MAX_NESTING = 4
MAX_KEPT_STRING = 65536  # longer string values (chat templates are the long ones) are not kept
WINDOW = 1 << 20

# ggml tensor types: (elements per block, bytes per block)
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", 32, 34),
    9: ("Q8_1", 32, 40),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
}

# general.file_type (llama.cpp's llama_ftype) -> the quantisation people name files by
FILE_TYPES = {
    0: "F32",
    1: "F16",
    2: "Q4_0",
    3: "Q4_1",
    7: "Q8_0",
    8: "Q5_0",
    9: "Q5_1",
    10: "Q2_K",
    11: "Q3_K_S",
    12: "Q3_K_M",
    13: "Q3_K_L",
    14: "Q4_K_S",
    15: "Q4_K_M",
    16: "Q5_K_S",
    17: "Q5_K_M",
    18: "Q6_K",
    19: "IQ2_XXS",
    20: "IQ2_XS",
    21: "Q2_K_S",
    22: "IQ3_XS",
    23: "IQ3_XXS",
    24: "IQ1_S",
    25: "IQ4_NL",
    26: "IQ3_S",
    27: "IQ3_M",
    28: "IQ2_S",
    29: "IQ2_M",
    30: "IQ4_XS",
    31: "IQ1_M",
    32: "BF16",
    36: "TQ1_0",
    37: "TQ2_0",
    38: "MXFP4_MOE",
}

# value types: struct format of the fixed-size ones
_FIXED = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
STRING, ARRAY = 8, 9


@dataclass
class Header:
    version: int
    metadata: dict[str, Any] = field(default_factory=dict)  # scalars and short strings; arrays by length only
    tensors: int = 0
    parameters: int = 0
    tensor_types: dict[str, int] = field(default_factory=dict)  # ggml type -> tensors of it
    tokens: list[str] | None = None

    def summary(self, size: int) -> dict[str, Any]:
        """The Hub's `gguf` shape: total parameters, architecture, context length, plus what people look for."""
        meta = self.metadata
        arch = meta.get("general.architecture")
        out: dict[str, Any] = {"total": self.parameters, "size": size, "tensors": self.tensors}
        if isinstance(arch, str):
            out["architecture"] = arch
            ctx = meta.get(f"{arch}.context_length")
            if isinstance(ctx, int):
                out["context_length"] = ctx
        file_type = meta.get("general.file_type")
        if isinstance(file_type, int):
            out["file_type"] = FILE_TYPES.get(file_type, str(file_type))
        for key, name in (("general.name", "name"), ("tokenizer.chat_template", "chat_template")):
            if isinstance(meta.get(key), str):
                out[name] = meta[key]
        for which in ("bos", "eos"):
            token_id = meta.get(f"tokenizer.ggml.{which}_token_id")
            if isinstance(token_id, int) and self.tokens is not None and 0 <= token_id < len(self.tokens):
                out[f"{which}_token"] = self.tokens[token_id]
        return out


class _Cursor:
    def __init__(self, source: Source) -> None:
        self.source, self.pos = source, 0
        self._buf, self._start = b"", 0
        self.limit = min(source.size, MAX_HEADER)

    def remaining(self) -> int:
        return self.limit - self.pos

    def take(self, n: int, what: str) -> bytes:
        if n < 0 or n > self.remaining():
            if self.pos + n > self.source.size:
                raise FormatError(f"{what} lies past the end of the file")
            raise FormatError(f"header is larger than the {MAX_HEADER} bytes read")
        end = self.pos + n
        if not (self._start <= self.pos and end <= self._start + len(self._buf)):
            self._start = self.pos
            self._buf = self.source.read(self.pos, max(n, WINDOW))
            if len(self._buf) < n:
                raise FormatError(f"{what}: short read")
        data = self._buf[self.pos - self._start : end - self._start]
        self.pos = end
        return data

    def skip(self, n: int, what: str) -> None:
        if n < 0 or n > self.remaining():
            raise FormatError(f"{what} lies past the end of the file")
        self.pos += n

    def unpack(self, fmt: str, what: str) -> Any:
        s = struct.Struct("<" + fmt)
        return s.unpack(self.take(s.size, what))[0]

    def string(self, what: str, keep: bool = True) -> str | None:
        n = self.unpack("Q", what)
        if n > self.remaining():
            raise FormatError(f"{what}: a string of {n} bytes lies past the end of the file")
        if not keep or n > MAX_KEPT_STRING:
            self.skip(n, what)
            return None
        return self.take(n, what).decode("utf-8", "replace")


def parse(source: Source) -> Header:
    cur = _Cursor(source)
    if source.size < 4 or cur.take(4, "magic") != b"GGUF":
        raise FormatError("not a GGUF file (bad magic)")
    version = cur.unpack("I", "version")
    if version not in (2, 3):
        raise FormatError(f"unsupported GGUF version {version}")
    n_tensors, n_kv = cur.unpack("Q", "tensor count"), cur.unpack("Q", "metadata count")
    if n_kv * 13 > cur.remaining() or n_tensors * 24 > cur.remaining():  # the smallest records they could be
        raise FormatError(f"{n_kv} metadata entries and {n_tensors} tensors cannot fit in the file")
    header = Header(version)
    for i in range(n_kv):
        key = cur.string(f"metadata key {i}") or ""
        vtype = cur.unpack("I", f"type of {key[:100]!r}")
        value = _value(cur, vtype, key, 0, header)
        if value is not None:
            header.metadata[key] = value
    alignment = header.metadata.get("general.alignment", 32)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1) or alignment > 1 << 20:
        raise FormatError(f"bad general.alignment {alignment!r}")
    records = [_tensor(cur, i) for i in range(n_tensors)]
    data_start = -(-cur.pos // alignment) * alignment
    data_size = source.size - data_start
    if data_size < 0:
        raise FormatError("tensor data lies past the end of the file")
    for name, count, ggml_type, offset in records:
        known = GGML_TYPES.get(ggml_type)
        label = known[0] if known else str(ggml_type)
        header.tensor_types[label] = header.tensor_types.get(label, 0) + 1
        header.parameters += count
        if known is None:
            continue
        _, block, block_bytes = known
        if count % block:
            raise FormatError(f"tensor {name!r}: {count} elements are not whole {label} blocks")
        if offset + count // block * block_bytes > data_size:
            raise FormatError(f"tensor {name!r}: its data lies past the end of the file")
    header.tensors = n_tensors
    return header


def _value(cur: _Cursor, vtype: int, key: str, depth: int, header: Header) -> Any:
    fmt = _FIXED.get(vtype)
    if fmt is not None:
        return cur.unpack(fmt, key[:100])
    if vtype == STRING:
        return cur.string(key[:100])
    if vtype != ARRAY:
        raise FormatError(f"{key[:100]!r}: unknown value type {vtype}")
    if depth >= MAX_NESTING:
        raise FormatError(f"{key[:100]!r}: arrays nested too deeply")
    item_type, count = cur.unpack("I", key[:100]), cur.unpack("Q", key[:100])
    item = _FIXED.get(item_type)
    if item is not None:
        cur.skip(count * struct.calcsize(item), f"{key[:100]!r} ({count} items)")
        return {"type": "array", "length": count}
    if item_type not in (STRING, ARRAY):
        raise FormatError(f"{key[:100]!r}: unknown array item type {item_type}")
    if count * 8 > cur.remaining():  # every string or array item takes at least 8 bytes
        raise FormatError(f"{key[:100]!r}: {count} items cannot fit in the file")
    keep = key == "tokenizer.ggml.tokens" and item_type == STRING
    tokens: list[str] = []
    for _ in range(count):
        if item_type == STRING:
            s = cur.string(key[:100], keep=keep)
            if keep:
                tokens.append(s or "")
        else:
            _value(cur, ARRAY, key, depth + 1, header)
    if keep:
        header.tokens = tokens
    return {"type": "array", "length": count}


def _tensor(cur: _Cursor, i: int) -> tuple[str, int, int, int]:
    name = cur.string(f"tensor {i} name") or f"#{i}"
    n_dims = cur.unpack("I", f"tensor {name!r} rank")
    if n_dims > MAX_DIMS:
        raise FormatError(f"tensor {name!r}: {n_dims} dimensions")
    count = 1
    for _ in range(n_dims):
        count *= cur.unpack("Q", f"tensor {name!r} shape")
    if count > cur.source.size * 8:
        raise FormatError(f"tensor {name!r}: {count} elements cannot fit in the file")
    ggml_type = cur.unpack("I", f"tensor {name!r} type")
    offset = cur.unpack("Q", f"tensor {name!r} offset")
    return name, count, ggml_type, offset
