"""Xet storage protocol (spec 1.1.0) formats: hashes, chunking, xorbs and shards.

Pure functions over bytes, with no HTTP or database code, so the CAS server and offline tools (LFS-to-Xet
conversion) share one implementation. Every malformed input raises `XetFormatError` (a ValueError).
"""

from __future__ import annotations

from haven.xet.chunking import Chunker, chunk_boundaries, iter_chunks
from haven.xet.compression import CompressionType
from haven.xet.errors import XetFormatError
from haven.xet.hashes import (
    chunk_hash,
    file_hash,
    hash_to_hex,
    hex_to_hash,
    hmac_hash,
    verification_hash,
    xorb_hash,
)
from haven.xet.shard import (
    CASChunk,
    CASInfo,
    FileInfo,
    Shard,
    ShardFooter,
    Term,
    check_upload_shard,
    dedup_response_shard,
    parse_shard,
    serialize_shard,
    verify_file_info,
)
from haven.xet.xorb import (
    Xorb,
    XorbChunk,
    chunk_byte_ranges,
    chunk_range_bytes,
    decompress_chunk,
    parse_xorb,
    serialize_xorb,
    validate_xorb,
)

__all__ = [
    "CASChunk",
    "CASInfo",
    "Chunker",
    "CompressionType",
    "FileInfo",
    "Shard",
    "ShardFooter",
    "Term",
    "XetFormatError",
    "Xorb",
    "XorbChunk",
    "check_upload_shard",
    "chunk_boundaries",
    "chunk_byte_ranges",
    "chunk_hash",
    "chunk_range_bytes",
    "decompress_chunk",
    "dedup_response_shard",
    "file_hash",
    "hash_to_hex",
    "hex_to_hash",
    "hmac_hash",
    "iter_chunks",
    "parse_shard",
    "parse_xorb",
    "serialize_shard",
    "serialize_xorb",
    "validate_xorb",
    "verification_hash",
    "verify_file_info",
    "xorb_hash",
]
