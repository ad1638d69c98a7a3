"""Gearhash content-defined chunking (spec chunking.md): 64 KiB target, 8 KiB min, 128 KiB max.

Why it can be vectorised: ``h = (h << 1) + TABLE[b]`` (mod 2^64) forgets a byte after 64 shifts, so at any
position at least 64 bytes into a chunk ``h`` depends only on the last 64 bytes of the stream, not on where
the chunk started. Boundaries are only tested at 8 KiB or more into a chunk, so every testable ``h`` equals a
sliding-window hash of the whole stream. We compute that window hash for all positions with numpy in six
doubling steps (window 1, 2, 4, ... 64: ``w2k[i] = (wk[i-k] << k) + wk[i]``), keep the positions whose top
16 bits are zero, and then pick cuts greedily with the min/max rule in plain Python (about one per 64 KiB).

Measured (2 shared vCPUs at load average ~3.5, Python 3.11, numpy 2.4, 64 MiB of random data):
`chunk_boundaries` 43 MB/s, `Chunker` fed 1 MiB blocks 49 MB/s; the spec's byte-at-a-time loop
(`chunk_boundaries_reference`) 1.5-3 MB/s. The numpy passes are memory-bound (8 bytes of state per input
byte), so an idle machine does better.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import numpy as np

from haven.xet.constants import CHUNK_MASK, GEAR_TABLE, GEAR_WINDOW, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE

_TABLE = np.array(GEAR_TABLE, dtype=np.uint64)
_CONTEXT = GEAR_WINDOW - 1  # bytes of history a window hash needs beyond its own byte
_BLOCK = 128 * 1024  # scan granularity: keeps the numpy temporaries (8 bytes per input byte) near cache size
_MIN_SCAN = 16 * 1024  # Chunker batches smaller updates up to this before scanning
_CANDIDATE_LIMIT = np.uint64((~CHUNK_MASK) & 0xFFFF_FFFF_FFFF_FFFF)  # h & MASK == 0  <=>  h <= this


def _candidates(context: bytes, block: bytes | memoryview) -> np.ndarray:
    """Offsets i in `block` where the gear hash of the 64 bytes ending at block[i] has (h & MASK) == 0.

    `context` is the up-to-63 bytes before `block`; at the start of a stream it is shorter, which is the
    same as the spec's h = 0 start state.
    """
    buf = np.frombuffer(bytes(context) + bytes(block), dtype=np.uint8)
    h = _TABLE[buf]
    step = 1
    while step < GEAR_WINDOW:
        h[step:] += h[:-step] << np.uint64(step)
        step *= 2
    hits = np.flatnonzero(h[len(context) :] <= _CANDIDATE_LIMIT)
    return hits


class _CutFinder:
    """Streaming boundary picker: feed bytes, get absolute chunk-end offsets (exclusive)."""

    def __init__(self) -> None:
        self.pos = 0  # bytes seen so far
        self.start = 0  # start of the current (open) chunk
        self._context = b""
        self._pending = np.empty(0, dtype=np.int64)  # candidate positions >= start, not yet decided

    def feed(self, block: bytes | memoryview) -> list[int]:
        cuts: list[int] = []
        view = memoryview(block).cast("B")
        for off in range(0, len(view), _BLOCK):
            part = view[off : off + _BLOCK]
            found = _candidates(self._context, part).astype(np.int64) + self.pos
            self._pending = np.concatenate((self._pending, found)) if self._pending.size else found
            self.pos += len(part)
            self._context = (self._context + bytes(part[-_CONTEXT:]))[-_CONTEXT:]
            self._cut(cuts)
        return cuts

    def _cut(self, cuts: list[int]) -> None:
        pending = self._pending
        idx = 0
        while True:
            first_ok = self.start + MIN_CHUNK_SIZE - 1  # smallest position whose cut makes a MIN-sized chunk
            forced = self.start + MAX_CHUNK_SIZE - 1
            idx += int(np.searchsorted(pending[idx:], first_ok))
            if idx < pending.size and pending[idx] <= forced:
                end = int(pending[idx]) + 1
            elif forced < self.pos:
                end = forced + 1
            else:
                break
            cuts.append(end)
            self.start = end
        self._pending = pending[idx:]

    def finish(self) -> list[int]:
        return [self.pos] if self.start < self.pos else []


def chunk_boundaries(data: bytes | bytearray | memoryview) -> list[int]:
    """Chunk end offsets (exclusive, ascending, last == len(data)); empty data has no chunks."""
    finder = _CutFinder()
    return finder.feed(data) + finder.finish()


class Chunker:
    """Incremental chunker: `update()` with blocks of any size, then `finish()`; memory stays around one
    chunk plus the block being fed, so large LFS objects can be chunked while streaming from storage."""

    def __init__(self) -> None:
        self._finder = _CutFinder()
        self._buf = bytearray()  # bytes of the open chunk onwards
        self._buf_start = 0  # absolute offset of _buf[0]
        self._unscanned = 0  # bytes at the end of _buf not yet fed to the finder
        self._finished = False

    def update(self, block: bytes | bytearray | memoryview) -> list[bytes]:
        """Add bytes; return the chunks completed so far, in order.

        Tiny blocks are batched before scanning (numpy calls cost more than the bytes), so a chunk may be
        returned by a later call than the one that completed it; the chunks themselves never change.
        """
        if self._finished:
            raise RuntimeError("Chunker.update() after finish()")
        self._buf += block
        self._unscanned += len(block)
        if self._unscanned < _MIN_SCAN:
            return []
        return self._scan()

    def finish(self) -> list[bytes]:
        """Flush what is buffered, including the last (short) chunk."""
        self._finished = True
        out = self._scan()
        return out + self._take(self._finder.finish())

    def _scan(self) -> list[bytes]:
        fresh = memoryview(self._buf)[len(self._buf) - self._unscanned :]
        try:
            cuts = self._finder.feed(fresh)
        finally:
            fresh.release()
        self._unscanned = 0
        return self._take(cuts)

    def _take(self, cuts: list[int]) -> list[bytes]:
        out: list[bytes] = []
        consumed = 0
        for end in cuts:
            rel = end - self._buf_start
            out.append(bytes(self._buf[consumed:rel]))
            consumed = rel
        if consumed:
            del self._buf[:consumed]
            self._buf_start += consumed
        return out


def iter_chunks(blocks: Iterable[bytes | bytearray | memoryview]) -> Iterator[bytes]:
    """Chunks of the concatenation of `blocks`, produced as the blocks arrive."""
    chunker = Chunker()
    for block in blocks:
        yield from chunker.update(block)
    yield from chunker.finish()


def chunk_boundaries_reference(data: bytes) -> list[int]:
    """The spec's byte-at-a-time pseudocode, kept as the oracle the fast path is tested against."""
    cuts: list[int] = []
    h = 0
    start = 0
    table = GEAR_TABLE
    for i, b in enumerate(data):
        h = ((h << 1) + table[b]) & 0xFFFF_FFFF_FFFF_FFFF
        size = i + 1 - start
        if size < MIN_CHUNK_SIZE:
            continue
        if size >= MAX_CHUNK_SIZE or (h & CHUNK_MASK) == 0:
            cuts.append(i + 1)
            start = i + 1
            h = 0
    if start < len(data):
        cuts.append(len(data))
    return cuts
