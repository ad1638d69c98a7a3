"""Xet hashes (spec hashing.md, api.md): chunk, xorb (Merkle root), file, term-verification and HMAC.

All hashes are 32 raw bytes. The API/"hash string" form prints each 8-byte group as a little-endian u64,
so it is *not* ``bytes.hex()``; keep raw bytes internally and convert only at the edges.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from blake3 import blake3

from haven.xet.constants import (
    DATA_KEY,
    FILE_HASH_KEY,
    GLOBAL_DEDUP_MODULUS,
    HASH_SIZE,
    INTERNAL_NODE_KEY,
    MERKLE_MAX_CHILDREN,
    MERKLE_MEAN_BRANCHING,
    VERIFICATION_KEY,
    ZERO_HASH,
)
from haven.xet.errors import XetFormatError

_HEX64 = re.compile(r"[0-9a-f]{64}")


def _keyed(data: bytes, key: bytes) -> bytes:
    return blake3(data, key=key).digest()


def chunk_hash(data: bytes) -> bytes:
    """Hash of one chunk's raw (uncompressed) bytes: BLAKE3 keyed with DATA_KEY."""
    return _keyed(data, DATA_KEY)


def hash_to_hex(h: bytes) -> str:
    """Hash string used in API paths and node text: each 8-byte group as a little-endian u64 in hex."""
    if len(h) != HASH_SIZE:
        raise XetFormatError(f"a hash is {HASH_SIZE} bytes, got {len(h)}")
    return h[7::-1].hex() + h[15:7:-1].hex() + h[23:15:-1].hex() + h[31:23:-1].hex()


def hex_to_hash(s: str) -> bytes:
    """Inverse of `hash_to_hex`; only 64 lowercase hex digits are accepted, as the API prints them."""
    if not isinstance(s, str) or not _HEX64.fullmatch(s):
        raise XetFormatError(f"not a Xet hash string (64 lowercase hex digits): {s!r:.80}")
    raw = bytes.fromhex(s)
    return raw[7::-1] + raw[15:7:-1] + raw[23:15:-1] + raw[31:23:-1]


def _node_hash(children: Sequence[tuple[bytes, int]]) -> bytes:
    text = "".join(f"{hash_to_hex(h)} : {size}\n" for h, size in children)
    return _keyed(text.encode("ascii"), INTERNAL_NODE_KEY)


def _next_cut(nodes: Sequence[tuple[bytes, int]], start: int) -> int:
    """End (exclusive) of the group starting at `start`: content-defined so the tree is stable under edits."""
    n = len(nodes) - start
    if n <= 2:
        return len(nodes)
    end = min(MERKLE_MAX_CHILDREN, n)
    for i in range(2, end):
        if int.from_bytes(nodes[start + i][0][24:32], "little") % MERKLE_MEAN_BRANCHING == 0:
            return start + i + 1
    return start + end


def merkle_root(chunks: Iterable[tuple[bytes, int]]) -> bytes:
    """Root of the aggregated-hash tree over (hash, size) leaves; zero hash for no leaves."""
    level = list(chunks)
    if not level:
        return ZERO_HASH
    for h, size in level:
        if len(h) != HASH_SIZE or size < 0:
            raise XetFormatError("Merkle leaves are (32-byte hash, non-negative size) pairs")
    while len(level) > 1:
        parents: list[tuple[bytes, int]] = []
        start = 0
        while start < len(level):
            end = _next_cut(level, start)
            group = level[start:end]
            parents.append((_node_hash(group), sum(size for _, size in group)))
            start = end
        level = parents
    return level[0][0]


def xorb_hash(chunks: Iterable[tuple[bytes, int]]) -> bytes:
    """Xorb hash: the Merkle root over the xorb's (chunk hash, uncompressed size) list, in order."""
    return merkle_root(chunks)


def file_hash(chunks: Iterable[tuple[bytes, int]], salt: bytes = FILE_HASH_KEY) -> bytes:
    """File hash (the Xet file ID): the Merkle root rehashed with an all-zero key.

    An empty file has no chunks and its hash is 32 zero bytes, not a hash of the zero root. `salt` is the
    key xet-core's tests vary; real file IDs always use the zero key.
    """
    leaves = list(chunks)
    if not leaves:
        return ZERO_HASH
    return _keyed(merkle_root(leaves), salt)


def verification_hash(chunk_hashes: Iterable[bytes]) -> bytes:
    """Term verification hash: BLAKE3(VERIFICATION_KEY) of the term's raw chunk hashes concatenated.

    A shard must carry it per term to prove the uploader knew the chunk hashes of xorbs it references.
    """
    hashes = list(chunk_hashes)
    if any(len(h) != HASH_SIZE for h in hashes):
        raise XetFormatError("chunk hashes are 32 bytes")
    return _keyed(b"".join(hashes), VERIFICATION_KEY)


def hmac_hash(key: bytes, h: bytes) -> bytes:
    """Keyed hash of a chunk hash, as stored in global-dedup shards so raw hashes are never disclosed."""
    if len(key) != HASH_SIZE or len(h) != HASH_SIZE:
        raise XetFormatError("HMAC key and hash are 32 bytes each")
    return _keyed(h, key)


def is_global_dedup_eligible(h: bytes) -> bool:
    """Whether a (non-first) chunk hash is one clients query global dedup for (deduplication.md)."""
    return int.from_bytes(h[24:32], "little") % GLOBAL_DEDUP_MODULUS == 0
