"""Xorb parsing, validation and serialization (spec xorb.md).

A xorb is chunks back to back, each an 8-byte header (version u8 = 0, compressed size u24 LE, compression
type u8, uncompressed size u24 LE) and its payload. Spec 1.1.0 defines no xorb footer and hf-xet 1.8.0
uploads none, so a xorb ends exactly after its last chunk. Older xet-core serialized an extra metadata
footer starting with the ident ``XETBLOB``; we recognise it only to give a clear error, or, with
``allow_footer=True``, to keep it as opaque bytes (its layout is not specified, so it is not checked).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from typing import Literal

from haven.xet.compression import CompressionType, compress_chunk, decompress_chunk
from haven.xet.constants import (
    CHUNK_HEADER_SIZE,
    CHUNK_HEADER_VERSION,
    HASH_SIZE,
    MAX_CHUNK_SIZE,
    XORB_MAX_CHUNKS,
    XORB_MAX_SIZE,
)
from haven.xet.errors import XetFormatError
from haven.xet.hashes import chunk_hash, hash_to_hex, hex_to_hash, xorb_hash

__all__ = [
    "CompressionType",
    "Xorb",
    "XorbChunk",
    "chunk_byte_ranges",
    "chunk_range_bytes",
    "decompress_chunk",
    "iter_chunk_data",
    "parse_xorb",
    "serialize_xorb",
    "validate_xorb",
]

LEGACY_FOOTER_IDENT = b"XETBLOB"
_U24 = 1 << 24


@dataclass(frozen=True, slots=True)
class XorbChunk:
    """One chunk's header as found at `offset` in the serialized xorb; `hash` is set by `validate_xorb`."""

    index: int
    offset: int
    header: bytes
    version: int
    compressed_size: int
    compression: CompressionType
    uncompressed_size: int
    hash: bytes | None = None

    @property
    def data_offset(self) -> int:
        return self.offset + CHUNK_HEADER_SIZE

    @property
    def end(self) -> int:
        """Offset just past the payload (exclusive)."""
        return self.data_offset + self.compressed_size


@dataclass(frozen=True, slots=True)
class Xorb:
    """A parsed xorb: chunk headers in order; `hash` is set by `validate_xorb`."""

    chunks: tuple[XorbChunk, ...]
    size: int
    hash: bytes | None = None
    footer: bytes | None = None  # only with allow_footer=True and a legacy XETBLOB footer

    @property
    def raw_size(self) -> int:
        """Sum of uncompressed chunk sizes (num_bytes_in_cas in a shard's CAS info)."""
        return sum(c.uncompressed_size for c in self.chunks)

    @property
    def chunk_hashes(self) -> list[tuple[bytes, int]]:
        """(chunk hash, uncompressed size) pairs; only available after `validate_xorb`."""
        if any(c.hash is None for c in self.chunks):
            raise ValueError("chunk hashes are only known after validate_xorb()")
        return [(c.hash, c.uncompressed_size) for c in self.chunks]  # type: ignore[misc]


def _u24(b: bytes | memoryview, at: int) -> int:
    return b[at] | (b[at + 1] << 8) | (b[at + 2] << 16)


def parse_xorb(data: bytes | bytearray | memoryview, *, allow_footer: bool = False) -> Xorb:
    """Frame a serialized xorb into chunk headers without decompressing.

    Checks everything a header can be checked for: the size limit, version 0, known compression, sizes
    within 128 KiB and non-zero, uncompressed payloads whose sizes agree, no truncation, no trailing bytes.
    """
    view = memoryview(data).cast("B")
    total = len(view)
    if total == 0:
        raise XetFormatError("empty xorb")
    if total > XORB_MAX_SIZE:
        raise XetFormatError(f"xorb is {total} bytes, more than the {XORB_MAX_SIZE}-byte limit")
    chunks: list[XorbChunk] = []
    footer: bytes | None = None
    off = 0
    while off < total:
        if bytes(view[off : off + len(LEGACY_FOOTER_IDENT)]) == LEGACY_FOOTER_IDENT and chunks:
            if not allow_footer:
                raise XetFormatError(
                    f"xorb has a legacy xet-core metadata footer at offset {off}; spec 1.1.0 xorbs end after the last chunk"
                )
            footer = bytes(view[off:])
            break
        if total - off < CHUNK_HEADER_SIZE:
            raise XetFormatError(f"truncated chunk header at offset {off} ({total - off} bytes left)")
        index = len(chunks)
        if index >= XORB_MAX_CHUNKS:
            raise XetFormatError(f"xorb has more than {XORB_MAX_CHUNKS} chunks")
        header = bytes(view[off : off + CHUNK_HEADER_SIZE])
        version = header[0]
        compressed = _u24(header, 1)
        ctype = header[4]
        raw = _u24(header, 5)
        where = f"chunk {index} at offset {off}"
        if version != CHUNK_HEADER_VERSION:
            raise XetFormatError(f"{where}: unsupported chunk header version {version}")
        try:
            compression = CompressionType(ctype)
        except ValueError:
            raise XetFormatError(f"{where}: unknown compression type {ctype}") from None
        if raw == 0 or compressed == 0:
            raise XetFormatError(f"{where}: empty chunk (compressed {compressed}, uncompressed {raw})")
        if raw > MAX_CHUNK_SIZE:
            raise XetFormatError(f"{where}: uncompressed size {raw} exceeds the {MAX_CHUNK_SIZE}-byte chunk limit")
        if compression == CompressionType.NONE and compressed != raw:
            raise XetFormatError(f"{where}: uncompressed chunk with compressed size {compressed} != {raw}")
        end = off + CHUNK_HEADER_SIZE + compressed
        if end > total:
            raise XetFormatError(f"{where}: payload of {compressed} bytes runs past the end of the xorb ({total})")
        chunks.append(XorbChunk(index, off, header, version, compressed, compression, raw))
        off = end
    return Xorb(tuple(chunks), total, footer=footer)


def iter_chunk_data(
    data: bytes | bytearray | memoryview, xorb: Xorb, start: int = 0, end: int | None = None
) -> Iterator[bytes]:
    """Raw bytes of chunks [start, end) of a parsed xorb, decompressed one at a time."""
    view = memoryview(data).cast("B")
    stop = len(xorb.chunks) if end is None else end
    if not 0 <= start <= stop <= len(xorb.chunks):
        raise XetFormatError(f"chunk range [{start}, {stop}) outside a xorb of {len(xorb.chunks)} chunks")
    for c in xorb.chunks[start:stop]:
        yield decompress_chunk(view[c.data_offset : c.end], c.compression, c.uncompressed_size)


def validate_xorb(
    data: bytes | bytearray | memoryview, expected_hash: str | bytes, *, allow_footer: bool = False
) -> Xorb:
    """Parse, decompress every chunk and check the Merkle root against `expected_hash` (a hash string, as in
    ``POST /v1/xorbs/default/{hash}``, or 32 raw bytes). Returns the xorb with chunk hashes filled in."""
    expected = hex_to_hash(expected_hash) if isinstance(expected_hash, str) else bytes(expected_hash)
    if len(expected) != HASH_SIZE:
        raise XetFormatError("expected xorb hash must be 32 bytes")
    xorb = parse_xorb(data, allow_footer=allow_footer)
    hashed = [replace(c, hash=chunk_hash(raw)) for c, raw in zip(xorb.chunks, iter_chunk_data(data, xorb), strict=True)]
    root = xorb_hash((c.hash, c.uncompressed_size) for c in hashed)  # type: ignore[misc]
    if root != expected:
        raise XetFormatError(f"xorb content hashes to {hash_to_hex(root)}, expected {hash_to_hex(expected)}")
    return replace(xorb, chunks=tuple(hashed), hash=root)


def chunk_byte_ranges(xorb: Xorb) -> list[tuple[int, int]]:
    """Per chunk, its serialized [start, end) byte span (header included), for serving chunk ranges."""
    return [(c.offset, c.end) for c in xorb.chunks]


def chunk_range_bytes(xorb: Xorb, start: int, end: int) -> tuple[int, int]:
    """Serialized [first byte, end) of chunks [start, end); an HTTP Range is ``bytes=first-(end-1)``."""
    if not 0 <= start < end <= len(xorb.chunks):
        raise XetFormatError(f"chunk range [{start}, {end}) outside a xorb of {len(xorb.chunks)} chunks")
    return xorb.chunks[start].offset, xorb.chunks[end - 1].end


Compression = CompressionType | Literal["auto"]


def _encode(raw: bytes, compression: Compression, fallback: bool) -> tuple[CompressionType, bytes]:
    if compression == "auto":
        options = [(t, compress_chunk(raw, t)) for t in (CompressionType.LZ4, CompressionType.BG4_LZ4)]
        ctype, payload = min(options, key=lambda o: len(o[1]))
    else:
        ctype = CompressionType(compression)
        payload = compress_chunk(raw, ctype)
    if fallback and len(payload) >= len(raw):
        return CompressionType.NONE, raw
    return ctype, payload


def serialize_xorb(
    chunks: Iterable[bytes | bytearray | memoryview],
    compression: Compression = CompressionType.LZ4,
    *,
    fallback: bool = True,
) -> bytes:
    """Serialize raw chunks into a xorb (no footer, as hf-xet uploads them).

    `compression` is applied to every chunk ("auto" keeps the smaller of LZ4 and BG4-LZ4 per chunk). With
    `fallback` a chunk is stored uncompressed when compressing does not shrink it, as the spec recommends;
    tests turn it off to force a scheme. The caller computes the xorb hash from the chunk hashes.
    """
    out = bytearray()
    count = 0
    for chunk in chunks:
        raw = bytes(chunk)
        if not 0 < len(raw) <= MAX_CHUNK_SIZE:
            raise ValueError(f"chunk of {len(raw)} bytes; chunks are 1..{MAX_CHUNK_SIZE} bytes")
        ctype, payload = _encode(raw, compression, fallback)
        if len(payload) >= _U24:
            raise ValueError("compressed chunk does not fit the 24-bit size field")
        out += bytes((CHUNK_HEADER_VERSION,)) + len(payload).to_bytes(3, "little")
        out += bytes((int(ctype),)) + len(raw).to_bytes(3, "little")
        out += payload
        count += 1
    if count == 0:
        raise ValueError("a xorb needs at least one chunk")
    if count > XORB_MAX_CHUNKS or len(out) > XORB_MAX_SIZE:
        raise ValueError(f"xorb of {count} chunks / {len(out)} bytes exceeds the protocol limits")
    return bytes(out)
