"""The CAS: verified xorbs in, shards registered as files, reconstructions and file bytes out.

Nothing becomes visible before it verifies: a xorb is stored only if its chunks hash to its name, a
shard's files only if every term matches stored xorbs (sizes, verification hashes, file hash) and the
reconstructed bytes have the SHA-256 the shard claims.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven.cas.layout import ChunkLayout, FileTerm, pack_layout, pack_terms, unpack_layout, unpack_terms
from haven.cas.models import XetDedupChunk, XetFile, XetFileXorb, XetXorb
from haven.cas.tokens import CasGrant
from haven.errors import BadRequest, NotFound, PayloadTooLarge, RangeNotSatisfiable
from haven.hub import Hub
from haven.repos import lfs
from haven.repos.models import LfsObject
from haven.xet.compression import CompressionType, decompress_chunk, lz4_decompress
from haven.xet.constants import XORB_MAX_SIZE
from haven.xet.errors import XetFormatError
from haven.xet.hashes import hash_to_hex, hex_to_hash, is_global_dedup_eligible
from haven.xet.shard import (
    FileInfo,
    cas_info_for_chunks,
    check_upload_shard,
    dedup_response_shard,
    parse_shard,
    verify_file_info,
)
from haven.xet.xorb import parse_xorb, validate_xorb


def check_hash(value: str) -> str:
    if len(value) != 64 or any(c not in "0123456789abcdef" for c in value):
        raise BadRequest(f"Malformed hash {value!r}: expected 64 lowercase hex characters")
    return value


# --- xorbs -------------------------------------------------------------------------------------


def xorb_size(hub: Hub, xorb: str) -> int | None:
    with hub.db.read() as session:
        row = session.get(XetXorb, check_hash(xorb))
        return row.size if row else None


def store_xorb(hub: Hub, xorb: str, data: bytes) -> bool:
    """Verify and store a xorb; False if it was already stored."""
    check_hash(xorb)
    if len(data) > XORB_MAX_SIZE:
        raise PayloadTooLarge(f"Xorbs are at most {XORB_MAX_SIZE} bytes")
    if xorb_size(hub, xorb) is not None:
        return False
    try:
        parsed = validate_xorb(data, xorb)
    except XetFormatError as e:
        raise BadRequest(f"Invalid xorb: {e}") from None
    hub.xorbs.publish_bytes(xorb, data)  # bytes first: a row never names missing bytes
    row = XetXorb(
        hash=xorb,
        size=len(data),
        unpacked_size=parsed.raw_size,
        num_chunks=len(parsed.chunks),
        layout=pack_layout(parsed),
    )
    eligible = {hash_to_hex(c.hash) for c in parsed.chunks if c.hash and is_global_dedup_eligible(c.hash)}
    try:
        with hub.db.write() as session:
            session.add(row)
            session.flush()
            _index_dedup(session, eligible, xorb)
    except IntegrityError:
        return False  # a concurrent upload of the same xorb won
    return True


def _index_dedup(session: Session, chunk_hashes: set[str], xorb: str) -> None:
    if not chunk_hashes:
        return
    known = set(session.scalars(select(XetDedupChunk.chunk_hash).where(XetDedupChunk.chunk_hash.in_(chunk_hashes))))
    session.add_all(XetDedupChunk(chunk_hash=h, xorb_hash=xorb) for h in sorted(chunk_hashes - known))


def layouts(hub: Hub, xorbs: set[str]) -> dict[str, ChunkLayout]:
    if not xorbs:
        return {}
    with hub.db.read() as session:
        rows = session.execute(
            select(XetXorb.hash, XetXorb.layout, XetXorb.size).where(XetXorb.hash.in_(sorted(xorbs)))
        ).all()
    return {r.hash: unpack_layout(r.layout, r.size) for r in rows}


# --- shards ------------------------------------------------------------------------------------


def register_shard(hub: Hub, grant: CasGrant, data: bytes) -> int:
    """Register the files a shard describes for the grant's repository; 1 if any was new, else 0."""
    try:
        shard = parse_shard(data)
        check_upload_shard(shard)
    except XetFormatError as e:
        raise BadRequest(f"Invalid shard: {e}") from None
    needed = {hash_to_hex(t.cas_hash) for f in shard.files for t in f.terms}
    needed |= {hash_to_hex(c.cas_hash) for c in shard.cas_infos}
    known = layouts(hub, needed)
    for c in shard.cas_infos:
        layout = known.get(hash_to_hex(c.cas_hash))
        if layout is None:
            raise BadRequest(f"Invalid shard: xorb {hash_to_hex(c.cas_hash)} was never uploaded")
        if [k.chunk_hash for k in c.chunks] != list(layout.hashes):
            raise BadRequest(f"Invalid shard: chunk list of xorb {hash_to_hex(c.cas_hash)} does not match it")

    def lookup(h: bytes) -> list[tuple[bytes, int]] | None:
        layout = known.get(hash_to_hex(h))
        return layout.pairs() if layout else None

    # Every file is verified before any is registered: a shard is accepted whole or not at all.
    verified: list[tuple[FileInfo, str, str, list[FileTerm] | None]] = []
    for f in shard.files:
        try:
            verify_file_info(f, lookup)
        except XetFormatError as e:
            raise BadRequest(f"Invalid shard: {e}") from None
        file_id, sha256 = hash_to_hex(f.file_hash), f.sha256_hex
        assert sha256 is not None  # check_upload_shard requires it
        row = _file_row(hub, file_id)
        terms: list[FileTerm] | None = None  # None: registered already
        if row is None:
            terms = unpack_terms(pack_terms(f.terms))
            actual = _sha256_of(hub, terms, known)
        else:  # its sha256 was checked then; the claim must match it, since the link below grants that sha256
            actual = row.sha256
        if actual != sha256:
            raise BadRequest(f"Invalid shard: file {file_id} has sha256 {actual}, not the claimed {sha256}")
        verified.append((f, file_id, sha256, terms))
    new = 0
    for f, file_id, sha256, terms in verified:
        if terms is not None:
            new |= _insert_file(hub, file_id, f.size, sha256, pack_terms(f.terms), terms, known)
        lfs.link(hub, grant.repo_id, sha256, f.size)
    return new


def _file_row(hub: Hub, file_id: str) -> XetFile | None:
    with hub.db.read() as session:
        return session.get(XetFile, file_id)


def _insert_file(
    hub: Hub, file_id: str, size: int, sha256: str, packed: bytes, terms: list[FileTerm], known: dict[str, ChunkLayout]
) -> int:
    first = terms[0] if terms else None
    try:
        with hub.db.write() as session:
            session.add(XetFile(hash=file_id, size=size, sha256=sha256, terms=packed))
            session.flush()
            session.add_all(XetFileXorb(xorb_hash=x, file_hash=file_id) for x in sorted({t.xorb for t in terms}))
            if first is not None:
                _index_dedup(session, {hash_to_hex(known[first.xorb].hashes[first.start])}, first.xorb)
    except IntegrityError:
        return 0
    return 1


def _sha256_of(hub: Hub, terms: list[FileTerm], known: dict[str, ChunkLayout]) -> str:
    digest = hashlib.sha256()
    for block in _iter_terms(hub, terms, known):
        digest.update(block)
    return digest.hexdigest()


# --- reading files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class XetFileInfo:
    file_id: str
    size: int
    sha256: str
    terms: list[FileTerm]


def file_by_sha256(hub: Hub, sha256: str) -> XetFileInfo | None:
    with hub.db.read() as session:
        row = session.scalar(select(XetFile).where(XetFile.sha256 == sha256).limit(1))
    return XetFileInfo(row.hash, row.size, row.sha256, unpack_terms(row.terms)) if row else None


def xet_hashes(hub: Hub, sha256s: list[str]) -> dict[str, str]:
    """sha256 -> Xet file hash, for the LFS objects that are stored as Xet files."""
    if not sha256s:
        return {}
    with hub.db.read() as session:
        rows = session.execute(select(XetFile.sha256, XetFile.hash).where(XetFile.sha256.in_(sha256s))).all()
    return {r.sha256: r.hash for r in rows}


def readable_file(hub: Hub, grant: CasGrant, file_id: str) -> XetFileInfo:
    """The file, if the grant's repository references it; 404 otherwise (no cross-repo probing)."""
    with hub.db.read() as session:
        row = session.get(XetFile, check_hash(file_id))
        if row is None or session.get(LfsObject, (grant.repo_id, row.sha256)) is None:
            raise NotFound(f"File {file_id} not found")
        return XetFileInfo(row.hash, row.size, row.sha256, unpack_terms(row.terms))


PIECE = 1 << 20  # iter_file's output unit: about 16 chunks


def iter_file(hub: Hub, info: XetFileInfo, start: int = 0, end: int | None = None) -> Iterator[bytes]:
    """The file's bytes [start, end] (inclusive), rebuilt from its chunks, in pieces of about PIECE bytes:
    a streamed response makes one threadpool round trip and one ASGI message per piece, which cost more
    than the bytes when every 64 KB chunk was a piece of its own."""
    if info.size == 0:
        return
    last = info.size - 1 if end is None else min(end, info.size - 1)
    skip, terms, known = plan(hub, info, (start, last))
    remaining = last - start + 1
    pending: list[bytes] = []
    size = 0
    for block in _iter_terms(hub, terms, known):
        if skip >= len(block):
            skip -= len(block)
            continue
        piece = block[skip : skip + remaining] if skip or len(block) - skip > remaining else block
        skip = 0
        remaining -= len(piece)
        pending.append(piece)
        size += len(piece)
        if size >= PIECE or remaining <= 0:
            yield pending[0] if len(pending) == 1 else b"".join(pending)
            pending, size = [], 0
        if remaining <= 0:
            return
    if pending:
        yield b"".join(pending)


READ_BLOCK = 8 << 20  # bytes of whole chunks read at a time when rebuilding a file


def _iter_terms(hub: Hub, terms: list[FileTerm], known: dict[str, ChunkLayout]) -> Iterator[bytes]:
    """Decompressed chunks of the terms, in order, reading only each term's byte span of its xorb.

    The span is read in blocks of whole chunks (at most READ_BLOCK bytes, unless one chunk is larger) into
    one reused buffer: reading a 64 MB term at once cost a fresh allocation whose page faults took as long
    as the read."""
    buf = bytearray(READ_BLOCK)
    for term in terms:
        layout = known[term.xorb]
        local = hub.xorbs.local_path(term.xorb)
        fd = os.open(local, os.O_RDONLY) if local is not None else -1
        try:
            start = term.start
            while start < term.end:
                first, end = layout.offsets[start], start + 1
                while end < term.end and layout.span(start, end + 1)[1] - first < READ_BLOCK:
                    end += 1  # [start, end] still fits in a block
                last = layout.span(start, end)[1]
                if last - first + 1 > len(buf):
                    buf = bytearray(last - first + 1)
                view = memoryview(buf)[: last - first + 1]
                if _read_span(hub, term.xorb, fd, view, first) != len(view):
                    raise RuntimeError(f"stored xorb {term.xorb} is shorter than its layout")
                yield from _decode(view, term.xorb)
                start = end
        finally:
            if fd >= 0:
                os.close(fd)


def _read_span(hub: Hub, xorb: str, fd: int, view: memoryview, first: int) -> int:
    """Fill `view` from byte `first` of the xorb: from its open file on local disk, else one ranged read."""
    if fd >= 0:
        return os.preadv(fd, [view], first)
    data = hub.xorbs.read_range(xorb, first, len(view))
    view[: len(data)] = data
    return len(data)


def _decode(data: memoryview, xorb: str) -> Iterator[bytes]:
    """The decompressed chunks of serialized chunks (a span of a stored xorb), each a new bytes object."""
    try:
        for c in parse_xorb(data).chunks:
            payload = data[c.data_offset : c.end]
            if c.compression == CompressionType.BG4_LZ4:
                yield _bg4_join(lz4_decompress(payload, c.uncompressed_size))
            else:
                yield decompress_chunk(payload, c.compression, c.uncompressed_size)
    except XetFormatError as e:
        raise RuntimeError(f"stored xorb {xorb} is corrupt: {e}") from None


def _bg4_join(grouped: bytes) -> bytes:
    """haven.xet.compression.bg4_join (the inverse of byte grouping) done with numpy's strided copies: 1.4 GB/s
    against 0.6 on these machines, on the paths that rebuild whole files (the sha256 pass of register_shard,
    plain downloads), where nearly every chunk of a model file is BG4-compressed."""
    n = len(grouped)
    base, extra = divmod(n, 4)
    src = np.frombuffer(grouped, np.uint8)
    out = np.empty(n, np.uint8)
    words = out[: 4 * base].reshape(base, 4)
    pos = 0
    for k in range(4):  # group k holds byte k of every 4-byte word, then (k < extra) one byte of the tail
        words[:, k] = src[pos : pos + base]
        if k < extra:
            out[4 * base + k] = src[pos + base]
        pos += base + (k < extra)
    return out.tobytes()


# --- reconstruction and dedup ------------------------------------------------------------------


def plan(hub: Hub, info: XetFileInfo, byte_range: tuple[int, int] | None) -> tuple[int, list[FileTerm], dict]:
    """Terms covering the range (trimmed to whole chunks), the offset into the first, and their layouts."""
    known = layouts(hub, {t.xorb for t in info.terms})
    if byte_range is None:
        return 0, info.terms, known
    start, end = byte_range
    if start >= info.size:
        raise RangeNotSatisfiable(f"Range start {start} is past the end of the file ({info.size} bytes)")
    end = min(end, info.size - 1)
    out: list[FileTerm] = []
    offset = 0
    pos = 0
    for term in info.terms:
        t_end = pos + term.length
        if t_end <= start or pos > end:
            pos = t_end
            continue
        sizes = known[term.xorb].sizes
        c_start, c_pos = term.start, pos
        while c_pos + sizes[c_start] <= start:
            c_pos += sizes[c_start]
            c_start += 1
        c_end, e_pos = c_start, c_pos
        while c_end < term.end and e_pos <= end:
            e_pos += sizes[c_end]
            c_end += 1
        if not out:
            offset = start - c_pos
        out.append(FileTerm(term.xorb, c_start, c_end, sum(sizes[c_start:c_end])))
        pos = t_end
    return offset, out, known


# A dedup answer carries the hit xorb and its neighbours: the other xorbs read by the newest files that read
# it. A fine-tune's small xorbs rarely hold a globally eligible chunk of their own, so without the neighbours
# a client with an empty cache would find the base model's xorbs but send every earlier fine-tune's changes again.
DEDUP_FILES = 8
DEDUP_XORBS = 64


def dedup_shard(hub: Hub, chunk: str, hmac_key: bytes) -> bytes:
    with hub.db.read() as session:
        row = session.get(XetDedupChunk, check_hash(chunk))
        if row is None:
            raise NotFound("Chunk not tracked for deduplication")
        xorbs = [row.xorb_hash, *_neighbours(session, row.xorb_hash)]
        rows = {x.hash: x for x in session.scalars(select(XetXorb).where(XetXorb.hash.in_(xorbs)))}
    infos = []
    for xorb in (rows[h] for h in xorbs if h in rows):
        layout = unpack_layout(xorb.layout, xorb.size)
        infos.append(cas_info_for_chunks(hex_to_hash(xorb.hash), layout.pairs(), num_bytes_on_disk=xorb.size))
    return dedup_response_shard(infos, hmac_key)


def _neighbours(session: Session, xorb: str) -> list[str]:
    """Up to DEDUP_XORBS - 1 other xorbs of the newest DEDUP_FILES files that read `xorb`, newest file first."""
    files = (
        select(XetFileXorb.file_hash)
        .join(XetFile, XetFile.hash == XetFileXorb.file_hash)
        .where(XetFileXorb.xorb_hash == xorb)
        .order_by(XetFile.created_at.desc(), XetFile.hash)
        .limit(DEDUP_FILES)
    )
    found: list[str] = []
    for file_hash in session.scalars(files).all():
        others = session.scalars(select(XetFileXorb.xorb_hash).where(XetFileXorb.file_hash == file_hash)).all()
        for other in others:
            if other != xorb and other not in found:
                found.append(other)
                if len(found) >= DEDUP_XORBS - 1:
                    return found
    return found
