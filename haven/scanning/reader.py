"""A bounded, seekable file object over one repository file, wherever its bytes live (git blob, local LFS
blob or Xet chunks), so zipfile and pickletools can read it without loading the whole file."""

from __future__ import annotations

import io
from typing import IO

from haven.formats import FormatError
from haven.metadata.source import Budget, EntrySource


class TooLarge(Exception):
    """More bytes were asked for than the scan may read."""


class SourceFile(io.RawIOBase):
    """Reads `source` at a cursor; every byte read is charged to its budget."""

    def __init__(self, source: EntrySource) -> None:
        self.source = source
        self.pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.source.size}[whence]
        self.pos = max(0, base + offset)
        return self.pos

    def read(self, n: int | None = -1) -> bytes:
        if n is None or n < 0:
            n = self.source.size - self.pos
        try:
            data = self.source.read(self.pos, n)
        except FormatError as e:
            raise TooLarge(str(e)) from None
        self.pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


class Capped(io.RawIOBase):
    """At most `limit` bytes of `inner` (a decompressing zip member cannot inflate past it)."""

    def __init__(self, inner: IO[bytes], limit: int) -> None:
        self.inner, self.left, self.pos = inner, limit, 0

    def readable(self) -> bool:
        return True

    def tell(self) -> int:  # pickletools reports opcode positions with it
        return self.pos

    def read(self, n: int | None = -1) -> bytes:
        want = self.left + 1 if n is None or n < 0 else min(n, self.left + 1)
        data = self.inner.read(want)
        if len(data) > self.left:
            raise TooLarge("the pickle is larger than a scan reads")
        self.left -= len(data)
        self.pos += len(data)
        return data

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


__all__ = ["Budget", "Capped", "SourceFile", "TooLarge"]
