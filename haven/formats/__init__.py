"""Bounded parsers for the headers of model and data files. Bytes in, plain data out; no I/O of their own.

Every parser reads through a `Source` (a size and a positioned read), looks only at the bytes the format
says hold the header, checks each length and count against the bytes left before trusting it, and raises
FormatError for anything corrupt or lying: a hostile file costs bounded time and memory."""

from __future__ import annotations

from typing import Protocol


class FormatError(ValueError):
    """The file is not a valid file of the format (or claims more than it holds)."""


class Source(Protocol):
    size: int

    def read(self, offset: int, n: int) -> bytes:
        """Up to `n` bytes from `offset` (fewer only at the end of the file)."""
        ...


class BytesSource:
    """A Source over bytes in memory."""

    def __init__(self, data: bytes) -> None:
        self.data, self.size = data, len(data)

    def read(self, offset: int, n: int) -> bytes:
        return self.data[offset : offset + n]


def read_exact(source: Source, offset: int, n: int, what: str) -> bytes:
    if n < 0 or offset < 0 or offset + n > source.size:
        raise FormatError(f"{what} lies past the end of the file ({offset}+{n} > {source.size} bytes)")
    data = source.read(offset, n)
    if len(data) != n:
        raise FormatError(f"{what}: short read ({len(data)} of {n} bytes)")
    return data
