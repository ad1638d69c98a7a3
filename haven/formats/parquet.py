"""Parquet footers: the row count, read from the file's last bytes without reading its data.

A Parquet file ends with its FileMetaData (Thrift compact protocol), a 4-byte length and `PAR1`.
num_rows is field 3 of that struct; the fields before it are skipped by the protocol's own rules."""

from __future__ import annotations

import struct

from haven.formats import FormatError, Source, read_exact

MAX_FOOTER = 16 * 1024 * 1024
MAX_NESTING = 64


def num_rows(source: Source) -> int:
    if source.size < 12:
        raise FormatError("too small to be a Parquet file")
    tail = read_exact(source, source.size - 8, 8, "footer")
    if tail[4:] != b"PAR1":
        raise FormatError("not a Parquet file (no PAR1 at the end)")
    (length,) = struct.unpack("<I", tail[:4])
    if length > MAX_FOOTER or length + 12 > source.size:
        raise FormatError(f"footer of {length} bytes does not fit")
    reader = _Compact(read_exact(source, source.size - 8 - length, length, "footer"))
    last = 0
    while True:
        field, ftype, last = reader.field_header(last)
        if ftype == 0:
            raise FormatError("footer has no num_rows")
        if field == 3 and ftype == 6:
            rows = reader.zigzag()
            if rows < 0:
                raise FormatError("negative num_rows")
            return rows
        reader.skip(ftype, 0)


class _Compact:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise FormatError("footer ends early")
        b = self.data[self.pos]
        self.pos += 1
        return b

    def varint(self) -> int:
        out, shift = 0, 0
        while True:
            b = self.byte()
            out |= (b & 0x7F) << shift
            if not b & 0x80:
                return out
            shift += 7
            if shift > 63:
                raise FormatError("varint too long")

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def field_header(self, last: int) -> tuple[int, int, int]:
        b = self.byte()
        if b == 0:
            return 0, 0, last
        delta, ftype = b >> 4, b & 0x0F
        field = last + delta if delta else self.zigzag()
        return field, ftype, field

    def advance(self, n: int) -> None:
        if n < 0 or self.pos + n > len(self.data):
            raise FormatError("footer ends early")
        self.pos += n

    def skip(self, ftype: int, depth: int) -> None:
        if depth > MAX_NESTING:
            raise FormatError("footer nested too deeply")
        if ftype in (1, 2):  # booleans carry their value in the type
            return
        if ftype == 3:
            self.advance(1)
        elif ftype in (4, 5, 6):
            self.varint()
        elif ftype == 7:
            self.advance(8)
        elif ftype == 8:
            self.advance(self.varint())
        elif ftype in (9, 10):
            head = self.byte()
            size, etype = head >> 4, head & 0x0F
            if size == 15:
                size = self.varint()
            if size > len(self.data) - self.pos:
                raise FormatError("list longer than the footer")
            for _ in range(size):
                self.skip_element(etype, depth + 1)
        elif ftype == 11:
            size = self.varint()
            if size:
                kinds = self.byte()
                if size * 2 > len(self.data) - self.pos:
                    raise FormatError("map longer than the footer")
                for _ in range(size):
                    self.skip_element(kinds >> 4, depth + 1)
                    self.skip_element(kinds & 0x0F, depth + 1)
        elif ftype == 12:
            last = 0
            while True:
                _, inner, last = self.field_header(last)
                if inner == 0:
                    return
                self.skip(inner, depth + 1)
        else:
            raise FormatError(f"unknown Thrift type {ftype}")

    def skip_element(self, etype: int, depth: int) -> None:
        if etype in (1, 2):  # booleans inside collections take a byte each
            self.advance(1)
        else:
            self.skip(etype, depth)
