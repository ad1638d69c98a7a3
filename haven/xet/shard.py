"""MDB shard parsing and serialization (spec shard.md).

Layout: 48-byte header, file-info section (per file: header, terms, optional verification entries,
optional metadata extension; then a bookend), CAS-info section (per xorb: header and chunk entries; then a
bookend), and an optional 200-byte footer. Every entry is 48 bytes, all integers little-endian.

Things the spec leaves implicit, as the vectors show them:
* Upload shards (hf-xet 1.8.0) have no footer and end right after the CAS bookend.
* Shards with a footer may carry xet-core lookup tables between the CAS bookend and the footer; the
  footer's first reserved 48 bytes hold their (offset, count) pairs. We keep those values but ignore the
  tables. HF's global-dedup responses point all three at the footer with count 0; we write the same.
* ``FileInfo.sha256`` holds the SHA-256 hex digest *parsed as a hash string*, so
  ``hash_to_hex(sha256) == hashlib.sha256(content).hexdigest()``.
* CAS entries' ``chunk_byte_range_start`` is the chunk's offset in the xorb's *uncompressed* data.
* The first 4 reserved bytes of a CAS chunk entry are exposed as ``flags`` (xet-core uses them; spec 1.1.0
  calls them reserved).
"""

from __future__ import annotations

import struct
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from itertools import starmap
from typing import NamedTuple

from haven.xet.constants import (
    BOOKEND,
    FILE_FLAG_WITH_METADATA_EXT,
    FILE_FLAG_WITH_VERIFICATION,
    HASH_SIZE,
    SHARD_ENTRY_SIZE,
    SHARD_FOOTER_SIZE,
    SHARD_FOOTER_VERSION,
    SHARD_HEADER_SIZE,
    SHARD_HEADER_TAG,
    SHARD_HEADER_VERSION,
    SHARD_MAX_SIZE,
    ZERO_HASH,
)
from haven.xet.errors import XetFormatError
from haven.xet.hashes import file_hash, hash_to_hex, hmac_hash, verification_hash

_ALL_FF = b"\xff" * HASH_SIZE
_FOOTER = struct.Struct("<QQQ6Q32sQQ72sQ")
_FOUR_U32 = struct.Struct("<IIII")
_TWO_U32 = struct.Struct("<II")
_TERM = struct.Struct("<32sIIII")
_HASH_ONLY = struct.Struct("<32s16x")
_CAS_CHUNK = struct.Struct("<32sIII4x")
assert _FOOTER.size == SHARD_FOOTER_SIZE


class Term(NamedTuple):
    """FileDataSequenceEntry: chunks [chunk_index_start, chunk_index_end) of xorb `cas_hash`.

    Entries are NamedTuples, not dataclasses, because a 64 MiB shard holds over a million of them."""

    cas_hash: bytes
    unpacked_segment_bytes: int
    chunk_index_start: int
    chunk_index_end: int
    cas_flags: int = 0


@dataclass(frozen=True, slots=True)
class FileInfo:
    """One file's reconstruction. `verification` has one range hash per term, or is None; `sha256` is the
    32 stored bytes (hash-string order, see module docstring) or None. `flags` is the raw file_flags on
    parse; when serializing, the verification/metadata bits are derived from the fields instead."""

    file_hash: bytes
    terms: tuple[Term, ...]
    verification: tuple[bytes, ...] | None = None
    sha256: bytes | None = None
    flags: int = 0

    @property
    def size(self) -> int:
        return sum(t.unpacked_segment_bytes for t in self.terms)

    @property
    def sha256_hex(self) -> str | None:
        """The file's ordinary SHA-256 hex digest (what an LFS pointer carries)."""
        return None if self.sha256 is None else hash_to_hex(self.sha256)


class CASChunk(NamedTuple):
    """CASChunkSequenceEntry: one chunk of a xorb."""

    chunk_hash: bytes
    chunk_byte_range_start: int
    unpacked_segment_bytes: int
    flags: int = 0


@dataclass(frozen=True, slots=True)
class CASInfo:
    """CASChunkSequenceHeader plus its chunk entries. `num_bytes_in_cas` None means "sum of chunk sizes"."""

    cas_hash: bytes
    chunks: tuple[CASChunk, ...]
    cas_flags: int = 0
    num_bytes_in_cas: int | None = None
    num_bytes_on_disk: int = 0

    @property
    def raw_size(self) -> int:
        return sum(c.unpacked_segment_bytes for c in self.chunks)


@dataclass(frozen=True, slots=True)
class ShardFooter:
    version: int
    file_info_offset: int
    cas_info_offset: int
    lookups: tuple[int, int, int, int, int, int]  # reserved _buffer: xet-core's lookup-table (offset, count) x3
    chunk_hash_hmac_key: bytes
    shard_creation_timestamp: int
    shard_key_expiry: int
    reserved: bytes  # the 72-byte _buffer2
    footer_offset: int


@dataclass(frozen=True, slots=True)
class Shard:
    files: tuple[FileInfo, ...]
    cas_infos: tuple[CASInfo, ...]
    footer: ShardFooter | None
    cas_info_offset: int
    cas_info_end: int
    size: int

    @property
    def hmac_key(self) -> bytes | None:
        """Key the CAS chunk hashes are HMAC'd with (global-dedup responses), or None if they are raw."""
        if self.footer is None or self.footer.chunk_hash_hmac_key == ZERO_HASH:
            return None
        return self.footer.chunk_hash_hmac_key


class _Reader:
    """Bounds-checked cursor over 48-byte entries; every overrun becomes a XetFormatError."""

    def __init__(self, data: memoryview, start: int, end: int) -> None:
        self.data, self.pos, self.end = data, start, end

    def entries_left(self) -> int:
        return (self.end - self.pos) // SHARD_ENTRY_SIZE

    def entry(self, what: str) -> bytes:
        if self.end - self.pos < SHARD_ENTRY_SIZE:
            raise XetFormatError(f"shard truncated: no room for {what} at offset {self.pos}")
        raw = bytes(self.data[self.pos : self.pos + SHARD_ENTRY_SIZE])
        self.pos += SHARD_ENTRY_SIZE
        return raw

    def need(self, count: int, what: str) -> None:
        if count > self.entries_left():
            raise XetFormatError(f"shard truncated: {count} {what} announced at offset {self.pos}, room for fewer")

    def entries(self, fmt: struct.Struct, count: int) -> Iterator[tuple]:
        """`count` entries decoded with `fmt` (48 bytes each); the caller has called `need` first."""
        start, self.pos = self.pos, self.pos + count * SHARD_ENTRY_SIZE
        return fmt.iter_unpack(self.data[start : self.pos])


def _parse_footer(view: memoryview, total: int) -> ShardFooter:
    fields = _FOOTER.unpack(view[total - SHARD_FOOTER_SIZE :])
    version, fi_off, cas_off, *rest = fields
    lookups, (key, created, expiry, reserved, footer_off) = tuple(rest[:6]), rest[6:]
    if version != SHARD_FOOTER_VERSION:
        raise XetFormatError(f"unsupported shard footer version {version}")
    if footer_off != total - SHARD_FOOTER_SIZE:
        raise XetFormatError(f"footer_offset {footer_off} does not point at the footer ({total - SHARD_FOOTER_SIZE})")
    if fi_off != SHARD_HEADER_SIZE:
        raise XetFormatError(f"footer file_info_offset {fi_off} != {SHARD_HEADER_SIZE}")
    return ShardFooter(version, fi_off, cas_off, lookups, key, created, expiry, reserved, footer_off)  # type: ignore[arg-type]


def _parse_files(r: _Reader) -> list[FileInfo]:
    files: list[FileInfo] = []
    while True:
        head = r.entry("a file info header or bookend")
        fhash = head[:HASH_SIZE]
        if fhash == _ALL_FF:
            return files
        flags, count = _TWO_U32.unpack_from(head, 32)
        has_verif = bool(flags & FILE_FLAG_WITH_VERIFICATION)
        has_meta = bool(flags & FILE_FLAG_WITH_METADATA_EXT)
        r.need(count * (2 if has_verif else 1) + int(has_meta), f"entries for file {len(files)}")
        terms = tuple(Term(h, u, s, e, f) for h, f, u, s, e in r.entries(_TERM, count))
        verification = tuple(h for (h,) in r.entries(_HASH_ONLY, count)) if has_verif else None
        sha = r.entry("a metadata extension")[:HASH_SIZE] if has_meta else None
        files.append(FileInfo(fhash, terms, verification, sha, flags))


def _parse_cas(r: _Reader) -> list[CASInfo]:
    infos: list[CASInfo] = []
    while True:
        head = r.entry("a CAS info header or bookend")
        chash = head[:HASH_SIZE]
        if chash == _ALL_FF:
            return infos
        cas_flags, count, in_cas, on_disk = _FOUR_U32.unpack_from(head, 32)
        r.need(count, f"chunk entries for xorb {len(infos)}")
        chunks = tuple(starmap(CASChunk, r.entries(_CAS_CHUNK, count)))
        infos.append(CASInfo(chash, chunks, cas_flags, in_cas, on_disk))


def parse_shard(data: bytes | bytearray | memoryview) -> Shard:
    """Parse a shard with or without footer; any inconsistency or overrun raises XetFormatError."""
    view = memoryview(data).cast("B")
    total = len(view)
    if total > SHARD_MAX_SIZE:
        raise XetFormatError(f"shard is {total} bytes, more than the {SHARD_MAX_SIZE}-byte limit")
    if total < SHARD_HEADER_SIZE:
        raise XetFormatError(f"shard is {total} bytes, shorter than its {SHARD_HEADER_SIZE}-byte header")
    if bytes(view[:HASH_SIZE]) != SHARD_HEADER_TAG:
        raise XetFormatError("not a shard: wrong magic tag")
    version, footer_size = struct.unpack_from("<QQ", view, HASH_SIZE)
    if version != SHARD_HEADER_VERSION:
        raise XetFormatError(f"unsupported shard header version {version}")
    if footer_size not in (0, SHARD_FOOTER_SIZE):
        raise XetFormatError(f"footer_size {footer_size}: must be 0 or {SHARD_FOOTER_SIZE}")
    if footer_size and total < SHARD_HEADER_SIZE + SHARD_FOOTER_SIZE:
        raise XetFormatError("shard too short for the footer its header announces")
    footer = _parse_footer(view, total) if footer_size else None
    body_end = total - footer_size
    reader = _Reader(view, SHARD_HEADER_SIZE, body_end)
    files = _parse_files(reader)
    cas_offset = reader.pos
    if footer is not None and footer.cas_info_offset != cas_offset:
        raise XetFormatError(f"footer cas_info_offset {footer.cas_info_offset} != actual {cas_offset}")
    infos = _parse_cas(reader)
    if footer is None and reader.pos != total:
        raise XetFormatError(f"{total - reader.pos} unexpected bytes after the CAS info bookend")
    return Shard(tuple(files), tuple(infos), footer, cas_offset, reader.pos, total)


def zero_unsent_footer(data: bytes | bytearray) -> bytes | bytearray:
    """hf_xet before 1.3 uploads its shards cut before the footer but with the header still announcing one
    (footer_size 200); later releases zero that field. Zero it for them too when the shard only parses
    that way, so both are read alike; anything else is returned unchanged for parse_shard to judge."""
    if len(data) < SHARD_HEADER_SIZE or struct.unpack_from("<Q", data, HASH_SIZE + 8)[0] != SHARD_FOOTER_SIZE:
        return data
    try:
        parse_shard(data)
        return data
    except XetFormatError:
        fixed = bytearray(data)
        struct.pack_into("<Q", fixed, HASH_SIZE + 8, 0)
    try:
        parse_shard(fixed)
    except XetFormatError:
        return data
    return fixed


def _entry(h: bytes, fmt: str, *values: int) -> bytes:
    if len(h) != HASH_SIZE:
        raise ValueError("hashes are 32 bytes")
    tail = struct.pack(fmt, *values)
    return h + tail + bytes(SHARD_ENTRY_SIZE - HASH_SIZE - len(tail))


def _file_bytes(f: FileInfo) -> bytes:
    flags = f.flags & ~(FILE_FLAG_WITH_VERIFICATION | FILE_FLAG_WITH_METADATA_EXT)
    if f.verification is not None:
        if len(f.verification) != len(f.terms):
            raise ValueError("one verification hash per term")
        flags |= FILE_FLAG_WITH_VERIFICATION
    if f.sha256 is not None:
        flags |= FILE_FLAG_WITH_METADATA_EXT
    parts = [_entry(f.file_hash, "<II", flags, len(f.terms))]
    parts += [
        _entry(t.cas_hash, "<IIII", t.cas_flags, t.unpacked_segment_bytes, t.chunk_index_start, t.chunk_index_end)
        for t in f.terms
    ]
    parts += [_entry(v, "") for v in f.verification or ()]
    if f.sha256 is not None:
        parts.append(_entry(f.sha256, ""))
    return b"".join(parts)


def _cas_bytes(c: CASInfo) -> bytes:
    in_cas = c.raw_size if c.num_bytes_in_cas is None else c.num_bytes_in_cas
    parts = [_entry(c.cas_hash, "<IIII", c.cas_flags, len(c.chunks), in_cas, c.num_bytes_on_disk)]
    parts += [
        _entry(k.chunk_hash, "<III", k.chunk_byte_range_start, k.unpacked_segment_bytes, k.flags) for k in c.chunks
    ]
    return b"".join(parts)


def serialize_shard(
    files: Iterable[FileInfo],
    cas_infos: Iterable[CASInfo],
    *,
    footer: bool = False,
    hmac_key: bytes = ZERO_HASH,
    creation_timestamp: int = 0,
    key_expiry: int = 0,
) -> bytes:
    """Serialize a shard. Upload shards have no footer; a footer carries `hmac_key` and the timestamps.

    Chunk hashes are written as given: use `dedup_response_shard` to HMAC them for a global-dedup answer.
    """
    if len(hmac_key) != HASH_SIZE:
        raise ValueError("hmac_key is 32 bytes")
    body = b"".join(_file_bytes(f) for f in files) + BOOKEND
    cas_offset = SHARD_HEADER_SIZE + len(body)
    body += b"".join(_cas_bytes(c) for c in cas_infos) + BOOKEND
    header = SHARD_HEADER_TAG + struct.pack("<QQ", SHARD_HEADER_VERSION, SHARD_FOOTER_SIZE if footer else 0)
    if not footer:
        return header + body
    footer_offset = SHARD_HEADER_SIZE + len(body)
    lookups = (footer_offset, 0) * 3
    tail = _FOOTER.pack(
        SHARD_FOOTER_VERSION,
        SHARD_HEADER_SIZE,
        cas_offset,
        *lookups,
        hmac_key,
        creation_timestamp,
        key_expiry,
        bytes(72),
        footer_offset,
    )
    return header + body + tail


def dedup_response_shard(
    cas_infos: Iterable[CASInfo],
    hmac_key: bytes,
    *,
    creation_timestamp: int | None = None,
    key_expiry: int | None = None,
    ttl: int = 7 * 24 * 3600,
) -> bytes:
    """A global-dedup answer (``GET /v1/chunks/...``): no files, CAS blocks whose chunk hashes are replaced
    by ``hmac_hash(hmac_key, hash)``, the key in the footer. Clients HMAC their own hashes to find matches."""
    if len(hmac_key) != HASH_SIZE or hmac_key == ZERO_HASH:
        raise ValueError("a dedup response needs a non-zero 32-byte HMAC key")
    now = int(time.time()) if creation_timestamp is None else creation_timestamp
    protected = [
        CASInfo(
            c.cas_hash,
            tuple(
                CASChunk(hmac_hash(hmac_key, k.chunk_hash), k.chunk_byte_range_start, k.unpacked_segment_bytes, k.flags)
                for k in c.chunks
            ),
            c.cas_flags,
            c.num_bytes_in_cas,
            c.num_bytes_on_disk,
        )
        for c in cas_infos
    ]
    expiry = now + ttl if key_expiry is None else key_expiry
    return serialize_shard([], protected, footer=True, hmac_key=hmac_key, creation_timestamp=now, key_expiry=expiry)


def cas_info_for_chunks(xorb_hash: bytes, chunks: Sequence[tuple[bytes, int]], num_bytes_on_disk: int = 0) -> CASInfo:
    """CAS info block for a xorb from its (chunk hash, size) list, with offsets as hf-xet writes them."""
    entries, pos = [], 0
    for h, size in chunks:
        entries.append(CASChunk(h, pos, size))
        pos += size
    return CASInfo(xorb_hash, tuple(entries), num_bytes_in_cas=pos, num_bytes_on_disk=num_bytes_on_disk)


def check_upload_shard(shard: Shard, *, require_sha256: bool = True, allow_footer: bool = False) -> None:
    """Structural rules for ``POST /v1|v2/shards`` bodies that need no storage lookups (shard.md, hashing.md):
    no footer, verification entries on every file, non-empty increasing term ranges, CAS sizes consistent."""
    if shard.footer is not None and not allow_footer:
        raise XetFormatError("an uploaded shard must not have a footer")
    for i, f in enumerate(shard.files):
        if f.verification is None:
            raise XetFormatError(f"file {i} ({hash_to_hex(f.file_hash)}) has no verification entries")
        if require_sha256 and f.sha256 is None:
            raise XetFormatError(f"file {i} ({hash_to_hex(f.file_hash)}) has no SHA-256 metadata extension")
        if not f.terms and f.file_hash != ZERO_HASH:
            raise XetFormatError(f"file {i} has no terms")
        for j, t in enumerate(f.terms):
            if t.chunk_index_start >= t.chunk_index_end:
                raise XetFormatError(
                    f"file {i} term {j}: empty chunk range [{t.chunk_index_start}, {t.chunk_index_end})"
                )
    for i, c in enumerate(shard.cas_infos):
        if not c.chunks:
            raise XetFormatError(f"CAS block {i} ({hash_to_hex(c.cas_hash)}) lists no chunks")
        if c.num_bytes_in_cas != c.raw_size:
            raise XetFormatError(
                f"CAS block {i}: num_bytes_in_cas {c.num_bytes_in_cas} != sum of chunk sizes {c.raw_size}"
            )


XorbChunkLookup = Callable[[bytes], Sequence[tuple[bytes, int]] | None]


def verify_file_info(f: FileInfo, xorb_chunks: XorbChunkLookup) -> None:
    """Check a file's terms against the xorbs they reference: ranges exist, sizes add up, every verification
    hash matches, and the file hash is the hash of the chunks the terms select. `xorb_chunks(xorb_hash)`
    returns that xorb's (chunk hash, size) list, or None if the xorb is unknown."""
    selected: list[tuple[bytes, int]] = []
    for j, t in enumerate(f.terms):
        chunks = xorb_chunks(t.cas_hash)
        where = f"term {j} (xorb {hash_to_hex(t.cas_hash)})"
        if chunks is None:
            raise XetFormatError(f"{where}: unknown xorb")
        if not 0 <= t.chunk_index_start < t.chunk_index_end <= len(chunks):
            raise XetFormatError(
                f"{where}: chunk range [{t.chunk_index_start}, {t.chunk_index_end}) outside {len(chunks)} chunks"
            )
        part = list(chunks[t.chunk_index_start : t.chunk_index_end])
        if sum(size for _, size in part) != t.unpacked_segment_bytes:
            raise XetFormatError(
                f"{where}: unpacked_segment_bytes {t.unpacked_segment_bytes} does not match the chunks"
            )
        if f.verification is not None and verification_hash(h for h, _ in part) != f.verification[j]:
            raise XetFormatError(f"{where}: verification hash mismatch")
        selected += part
    if file_hash(selected) != f.file_hash:
        raise XetFormatError(f"file hash {hash_to_hex(f.file_hash)} does not match its terms")
