"""The blob store contract: content-addressed (sha256) immutable objects."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

from haven.errors import HavenError


class BlobMismatch(ValueError):
    """Uploaded bytes do not match the size or sha256 they were announced with."""


class StorageUnavailable(HavenError):
    """The blob store cannot be reached or refuses Haven (a remote object store down or misconfigured): the
    request may succeed later, so it is answered 503, never 500."""

    status = 503

    def __init__(self, message: str) -> None:
        super().__init__(message, headers={"Retry-After": "10"})


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

    def sizes(self, oids: list[str]) -> dict[str, int]:
        """oid -> size of those of `oids` that are stored (a remote store asks for them concurrently)."""

    def local_path(self, oid: str) -> Path | None:
        """A file the server may send directly (sendfile); None for remote backends."""

    def open(self, oid: str) -> BinaryIO:
        """A seekable reader of the object; FileNotFoundError if it is absent."""

    def read_range(self, oid: str, start: int, length: int) -> bytes:
        """`length` bytes from `start` (fewer at the end): one ranged read, no open file kept."""

    def writer(self) -> BlobWriter: ...

    def put(self, data: bytes) -> str:
        """Store small in-memory content; returns its oid."""

    def publish_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key`, a 64-hex id the caller has already verified (e.g. a xorb hash)."""

    def delete(self, oid: str) -> None: ...

    def total_bytes(self) -> int:
        """Bytes of every published object (walks the store: for reports, not hot paths)."""

    def clean_tmp(self, older_than: float = 3600.0) -> None:
        """Drop temporary uploads older than `older_than` seconds that a crash or a client left behind."""

    def list_objects(self) -> Iterator[StoredObject]:
        """Every published object, in no particular order (for maintenance: gc, fsck, backup; not hot paths).
        Objects published while the listing runs may or may not appear."""

    def stat(self, oid: str) -> StoredObject | None:
        """Size and last write of one object, or None if it is not stored."""
