"""Reading a file's bytes wherever they live (git blob, LFS blob, Xet chunks), and safetensors headers."""

from __future__ import annotations

import struct
from dataclasses import dataclass
from math import prod
from typing import Any

import orjson

from haven.cas import service as cas
from haven.git.store import Entry, GitRepo
from haven.hub import Hub
from haven.storage import cache as blob_cache

MAX_HEADER = 25_000_000  # the safetensors format caps headers at 100 MB; we show up to this


def read_prefix(hub: Hub, git: GitRepo, entry: Entry, n: int) -> bytes | None:
    """The first `n` bytes of a file (None when its bytes are missing from storage)."""
    if entry.pointer is None:
        return git.read_blob(entry.oid)[:n]
    oid = entry.pointer.oid
    data = blob_cache.read_range(hub.blobs, oid, 0, n)
    if data is not None:
        return data
    info = cas.file_by_sha256(hub, oid)
    if info is None:
        return None
    if info.size == 0 or n <= 0:
        return b""
    return b"".join(cas.iter_file(hub, info, 0, min(n, info.size) - 1))


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]

    @property
    def parameters(self) -> int:
        return prod(self.shape)


@dataclass(frozen=True)
class SafetensorsHeader:
    tensors: list[Tensor]
    metadata: dict[str, str]

    @property
    def parameters(self) -> int:
        return sum(t.parameters for t in self.tensors)


def safetensors_header(hub: Hub, git: GitRepo, entry: Entry) -> SafetensorsHeader | None:
    """The tensor list of a .safetensors file, read from its header only; None if it is not one."""
    head = read_prefix(hub, git, entry, 8)
    if head is None or len(head) < 8:
        return None
    (length,) = struct.unpack("<Q", head)
    if length > MAX_HEADER or length + 8 > entry.size:
        return None
    raw = read_prefix(hub, git, entry, 8 + length)
    if raw is None:
        return None
    try:
        data: Any = orjson.loads(raw[8:])
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    tensors = []
    metadata: dict[str, str] = {}
    for name, value in data.items():
        if name == "__metadata__":
            if isinstance(value, dict):
                metadata = {str(k): str(v) for k, v in value.items()}
            continue
        if not isinstance(value, dict):
            return None
        shape = value.get("shape")
        if not isinstance(shape, list) or not all(isinstance(d, int) and d >= 0 for d in shape):
            return None
        tensors.append(Tensor(str(name), str(value.get("dtype", "?")), tuple(shape)))
    return SafetensorsHeader(tensors, metadata)
