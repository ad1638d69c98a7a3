"""Chunk compression schemes inside xorbs (spec xorb.md): None, LZ4 and ByteGrouping4 + LZ4.

"LZ4" here is the LZ4 *frame* format (magic 04 22 4D 18), not raw blocks. We write frames the way
hf-xet 1.8.0 does (independent 64 KiB blocks, no stored size, no checksums) and accept any valid frame.
Decompression is bounded by the size the chunk header announces, so a lying header cannot make us
allocate more than that.
"""

from __future__ import annotations

from enum import IntEnum

import lz4.frame

from haven.xet.errors import XetFormatError


class CompressionType(IntEnum):
    """The compression-type byte of a chunk header."""

    NONE = 0
    LZ4 = 1
    BG4_LZ4 = 2


def bg4_split(data: bytes | memoryview) -> bytes:
    """Byte grouping: bytes at positions i % 4 == 0, then == 1, == 2, == 3 (helps LZ4 on float tensors)."""
    data = bytes(data)
    return data[0::4] + data[1::4] + data[2::4] + data[3::4]


def bg4_join(grouped: bytes | memoryview) -> bytes:
    """Inverse of `bg4_split`: the first len % 4 groups hold one extra byte."""
    n = len(grouped)
    out = bytearray(n)
    base, extra = divmod(n, 4)
    pos = 0
    for k in range(4):
        size = base + (1 if k < extra else 0)
        out[k::4] = grouped[pos : pos + size]
        pos += size
    return bytes(out)


def lz4_compress(data: bytes | memoryview) -> bytes:
    return lz4.frame.compress(
        bytes(data),
        block_size=lz4.frame.BLOCKSIZE_MAX64KB,
        block_linked=False,
        content_checksum=False,
        store_size=False,
    )


def lz4_decompress(payload: bytes | memoryview, expected_size: int) -> bytes:
    """Decode exactly one LZ4 frame that must expand to exactly `expected_size` bytes."""
    decoder = lz4.frame.LZ4FrameDecompressor()
    try:
        out = decoder.decompress(bytes(payload), max_length=expected_size + 1)
    except (RuntimeError, ValueError, OverflowError, MemoryError) as exc:
        raise XetFormatError(f"corrupt LZ4 frame: {exc}") from None
    if len(out) != expected_size:
        raise XetFormatError(f"LZ4 frame expands to at least {len(out)} bytes, header says {expected_size}")
    if not decoder.eof:
        raise XetFormatError("LZ4 frame is truncated or longer than the header says")
    if decoder.unused_data:
        raise XetFormatError(f"{len(decoder.unused_data)} bytes after the end of the LZ4 frame")
    return out


def compress_chunk(data: bytes | memoryview, compression: CompressionType) -> bytes:
    """Payload for one chunk under `compression` (no fallback; see `xorb.serialize_xorb` for that)."""
    if compression == CompressionType.NONE:
        return bytes(data)
    if compression == CompressionType.LZ4:
        return lz4_compress(data)
    if compression == CompressionType.BG4_LZ4:
        return lz4_compress(bg4_split(data))
    raise XetFormatError(f"unknown compression type {compression!r}")


def decompress_chunk(payload: bytes | memoryview, compression: int, uncompressed_size: int) -> bytes:
    """Raw chunk bytes from a chunk payload; raises XetFormatError unless they are exactly the announced size."""
    if compression == CompressionType.NONE:
        if len(payload) != uncompressed_size:
            raise XetFormatError(f"uncompressed chunk has {len(payload)} bytes, header says {uncompressed_size}")
        return bytes(payload)
    if compression == CompressionType.LZ4:
        return lz4_decompress(payload, uncompressed_size)
    if compression == CompressionType.BG4_LZ4:
        return bg4_join(lz4_decompress(payload, uncompressed_size))
    raise XetFormatError(f"unknown chunk compression type {compression}")
