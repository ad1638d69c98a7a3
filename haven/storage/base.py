"""The blob store contract: content-addressed (sha256) immutable objects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol


class BlobMismatch(ValueError):
    """Uploaded bytes do not match the size or sha256 they were announced with."""


@dataclass(frozen=True, slots=True)
class StoredObject:
    """A published object as listed for maintenance (gc, fsck, backup): its oid, size and when it was last
    written or re-announced (seconds since the epoch), which garbage collection compares with its grace."""

    oid: str
    size: int
    mtime: float


class BlobWriter(Protocol):
    """Receives an object's bytes, hashing as they arrive; nothing is visible until `commit`."""

    size: int

    def write(self, data: bytes) -> None: ...

    def commit(self, oid: str, size: int) -> None:
        """Verify the bytes against `oid`/`size` and publish them atomically, or raise BlobMismatch."""

    def abort(self) -> None: ...


class BlobStore(Protocol):
    def exists(self, oid: str) -> bool: ...

    def size(self, oid: str) -> int | None: ...

    def local_path(self, oid: str) -> Path | None:
        """A file the server may send directly (sendfile); None for remote backends."""

    def open(self, oid: str) -> BinaryIO: ...

    def writer(self) -> BlobWriter: ...

    def put(self, data: bytes) -> str:
        """Store small in-memory content; returns its oid."""

    def delete(self, oid: str) -> None: ...

    def list_objects(self) -> Iterator[StoredObject]:
        """Every published object, in no particular order (for maintenance: gc, fsck, backup; not hot paths).
        Objects published while the listing runs may or may not appear."""

    def stat(self, oid: str) -> StoredObject | None:
        """Size and last write of one object, or None if it is not stored."""
