"""Blobs as files under <root>/sha256/ab/cd/<oid>; uploads land in <root>/tmp and are renamed into place."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import secrets
import time
from pathlib import Path
from typing import BinaryIO

from haven.storage.base import BlobMismatch

OID_RE = re.compile(r"^[0-9a-f]{64}$")


class LocalBlobWriter:
    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self._tmp = store.tmp_dir / secrets.token_hex(16)
        self._file = open(self._tmp, "wb")  # noqa: SIM115 (closed in commit/abort)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        self._file.write(data)
        self.size += len(data)

    def commit(self, oid: str, size: int) -> None:
        self._file.close()
        actual = self._hash.hexdigest()
        if self.size != size or actual != oid:
            self._tmp.unlink(missing_ok=True)
            raise BlobMismatch(
                f"uploaded object has size {self.size} and sha256 {actual}, expected size {size} and sha256 {oid}"
            )
        self._store._publish(self._tmp, oid)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


class LocalBlobStore:
    def __init__(self, root: Path, fsync: bool = False) -> None:
        self.root = root
        self.tmp_dir = root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync

    def path(self, oid: str) -> Path:
        if not OID_RE.match(oid):
            raise ValueError(f"not a sha256 oid: {oid!r}")
        return self.root / "sha256" / oid[:2] / oid[2:4] / oid

    def exists(self, oid: str) -> bool:
        return self.path(oid).is_file()

    def size(self, oid: str) -> int | None:
        try:
            return self.path(oid).stat().st_size
        except FileNotFoundError:
            return None

    def local_path(self, oid: str) -> Path | None:
        return self.path(oid)

    def open(self, oid: str) -> BinaryIO:
        return open(self.path(oid), "rb")

    def writer(self) -> LocalBlobWriter:
        return LocalBlobWriter(self)

    def put(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        if not self.exists(oid):
            w = self.writer()
            w.write(data)
            w.commit(oid, len(data))
        return oid

    def delete(self, oid: str) -> None:
        self.path(oid).unlink(missing_ok=True)

    def _publish(self, tmp: Path, oid: str) -> None:
        dest = self.path(oid)
        dest.parent.mkdir(parents=True, exist_ok=True)
        if self.fsync:
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        os.replace(tmp, dest)  # atomic: readers see all of the object or none of it

    def clean_tmp(self, older_than: float = 3600.0) -> None:
        """Drop half-received uploads a crash left behind (live uploads keep their mtime fresh)."""
        cutoff = time.time() - older_than
        for p in self.tmp_dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if p.stat().st_mtime < cutoff:
                    p.unlink()
