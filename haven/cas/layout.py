"""Compact binary forms of a xorb's chunk layout and a file's terms, as stored in the database."""

from __future__ import annotations

import struct
from dataclasses import dataclass

from haven.xet.hashes import hash_to_hex
from haven.xet.shard import Term
from haven.xet.xorb import Xorb

_CHUNK = struct.Struct("<II32s")  # serialized offset, unpacked length, chunk hash
_TERM = struct.Struct("<32sIII")  # xorb hash, chunk start, chunk end, unpacked length


@dataclass(frozen=True, slots=True)
class ChunkLayout:
    """Where each chunk of a stored xorb sits, and what it holds."""

    offsets: tuple[int, ...]  # serialized start of each chunk (its header)
    sizes: tuple[int, ...]  # unpacked length of each chunk
    hashes: tuple[bytes, ...]
    xorb_size: int

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Serialized [first, last] byte (inclusive) of chunks [start, end)."""
        last = self.offsets[end] - 1 if end < len(self.offsets) else self.xorb_size - 1
        return self.offsets[start], last

    def pairs(self) -> list[tuple[bytes, int]]:
        return list(zip(self.hashes, self.sizes, strict=True))


def pack_layout(xorb: Xorb) -> bytes:
    return b"".join(_CHUNK.pack(c.offset, c.uncompressed_size, c.hash) for c in xorb.chunks)


def unpack_layout(blob: bytes, xorb_size: int) -> ChunkLayout:
    rows = list(_CHUNK.iter_unpack(blob))
    return ChunkLayout(tuple(r[0] for r in rows), tuple(r[1] for r in rows), tuple(r[2] for r in rows), xorb_size)


@dataclass(frozen=True, slots=True)
class FileTerm:
    xorb: str  # hash string
    start: int
    end: int
    length: int  # unpacked bytes


def pack_terms(terms: tuple[Term, ...]) -> bytes:
    return b"".join(
        _TERM.pack(t.cas_hash, t.chunk_index_start, t.chunk_index_end, t.unpacked_segment_bytes) for t in terms
    )


def unpack_terms(blob: bytes) -> list[FileTerm]:
    return [FileTerm(hash_to_hex(h), s, e, n) for h, s, e, n in _TERM.iter_unpack(blob)]
