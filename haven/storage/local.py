"""Blobs as files under <root>/sha256/ab/cd/<oid>; uploads land in <root>/tmp and are renamed into place.

A multipart upload assembles its object in place: every part is written straight into one file,
<root>/tmp/mp-<key>/data, at the part's offset, and leaves a small marker (part-NNNNN: "offset size").
Parts that arrive in order (huggingface_hub sends them one after another) are hashed as they are
received, so completion only hashes what was not (nothing, usually), checks, and renames the file
into place: no second pass over the bytes and no copy. Whatever may have changed bytes after they
were hashed (a part sent twice, a part that failed halfway, another process, a restart) makes
completion hash those bytes from the file instead.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from haven.storage.base import BlobMismatch, StoredObject

OID_RE = re.compile(r"^[0-9a-f]{64}$")
READ_CHUNK = 1 << 20
_MARKER_RE = re.compile(r"^part-(\d{5})$")
_LOCK_WAIT = 30.0  # seconds completion waits for parts still being written


class UploadInProgress(Exception):
    """A multipart upload is being completed, or parts are still arriving while it is."""


def _mismatch(size: int, actual: str, expected_size: int, oid: str) -> BlobMismatch:
    return BlobMismatch(
        f"uploaded object has size {size} and sha256 {actual}, expected size {expected_size} and sha256 {oid}"
    )


class LocalBlobWriter:
    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self._tmp = store.tmp_dir / secrets.token_hex(16)
        self._file = open(self._tmp, "wb", buffering=0)  # noqa: SIM115 (closed in commit/abort)
        self._hash = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self._hash.update(data)
        _write_all(self._file.fileno(), data, None)
        self.size += len(data)

    def commit(self, oid: str, size: int) -> None:
        self._file.close()
        actual = self._hash.hexdigest()
        if self.size != size or actual != oid:
            self._tmp.unlink(missing_ok=True)
            raise _mismatch(self.size, actual, size, oid)
        self._store._publish(self._tmp, oid)

    def abort(self) -> None:
        self._file.close()
        self._tmp.unlink(missing_ok=True)


@dataclass
class _Multipart:
    """What this process hashed of one multipart upload: parts 1..next-1, in order, into `data`."""

    fd: int  # the data file, kept open so its inode (and so its identity) cannot be reused
    ident: tuple[int, int]
    hashed: dict[int, tuple[int, Any]] = field(default_factory=dict)  # part -> (size, sha256 of parts 1..part)
    next: int = 1
    busy: bool = False
    touched: float = field(default_factory=time.monotonic)

    def close(self) -> None:
        os.close(self.fd)


class LocalPartWriter:
    """Receives one part of a multipart upload into the shared data file at the part's offset."""

    def __init__(self, store: LocalBlobStore, key: str, part: int, chunk_size: int) -> None:
        self._store, self._part = store, part
        self._dir = store.multipart_dir(key)
        self._dir.mkdir(exist_ok=True)
        self._offset = (part - 1) * chunk_size
        self.size = 0
        try:  # the first upload of this part; any later one may overwrite bytes already hashed
            os.close(os.open(self._dir / f"claim-{part:05d}", os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644))
        except FileExistsError:
            _touch(self._dir / f"dirty-{part:05d}")
        self._fd = os.open(self._dir / "data", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UploadInProgress("This upload is being completed") from None
            st = os.fstat(self._fd)
            try:
                same = os.stat(self._dir / "data").st_ino == st.st_ino
            except FileNotFoundError:
                same = False
            if not same:  # completed (and moved) between open and lock
                raise UploadInProgress("This upload is being completed")
            self._mp, self._hash = store._claim_part(key, part, self._fd, (st.st_dev, st.st_ino))
        except BaseException:
            os.close(self._fd)
            raise

    def write(self, data: bytes) -> None:
        if self._hash is not None:
            self._hash.update(data)
        _write_all(self._fd, data, self._offset + self.size)
        self.size += len(data)

    def commit(self) -> None:
        tmp = self._dir / f"part-{self._part:05d}.tmp-{secrets.token_hex(8)}"
        tmp.write_text(f"{self._offset} {self.size}")
        os.replace(tmp, self._dir / f"part-{self._part:05d}")
        self._close()
        self._store._part_done(self._mp, self._part, self.size, self._hash)

    def abort(self) -> None:
        if self.size and self._fd >= 0:  # bytes of this part may now be half overwritten
            with contextlib.suppress(OSError):
                _touch(self._dir / f"dirty-{self._part:05d}")
        self._close()
        self._store._part_done(self._mp, self._part, self.size, None)

    def _close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)  # releases the shared lock
            self._fd = -1


class LocalBlobStore:
    def __init__(self, root: Path, fsync: bool = False, create: bool = False) -> None:
        """`create` makes the store's directories (setup does; serving processes only open them)."""
        self.root = root
        self.tmp_dir = root / "tmp"
        if create:
            self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self._multipart: dict[str, _Multipart] = {}
        self._mp_lock = threading.Lock()

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

    def sizes(self, oids: list[str]) -> dict[str, int]:
        return {oid: size for oid in oids if (size := self.size(oid)) is not None}

    def local_path(self, oid: str) -> Path | None:
        return self.path(oid)

    def open(self, oid: str) -> BinaryIO:
        return open(self.path(oid), "rb")

    def read_range(self, oid: str, start: int, length: int) -> bytes:
        fd = os.open(self.path(oid), os.O_RDONLY)
        try:
            return os.pread(fd, max(length, 0), start)
        finally:
            os.close(fd)

    def writer(self) -> LocalBlobWriter:
        return LocalBlobWriter(self)

    def put(self, data: bytes) -> str:
        oid = hashlib.sha256(data).hexdigest()
        if not self.exists(oid):
            w = self.writer()
            w.write(data)
            w.commit(oid, len(data))
        return oid

    def total_bytes(self) -> int:
        """Bytes of every published object (walks the tree: for reports, not hot paths)."""
        total = 0
        for path in (self.root / "sha256").rglob("*"):
            with contextlib.suppress(FileNotFoundError):
                if path.is_file():
                    total += path.stat().st_size
        return total

    def publish_bytes(self, key: str, data: bytes) -> None:
        """Store `data` under `key` (a 64-hex id the caller has already verified, e.g. a xorb hash)."""
        tmp = self.tmp_dir / secrets.token_hex(16)
        tmp.write_bytes(data)
        self._publish(tmp, key)

    def delete(self, oid: str) -> None:
        self.path(oid).unlink(missing_ok=True)

    def list_objects(self) -> Iterator[StoredObject]:
        top = self.root / "sha256"
        for dirpath, _dirs, names in os.walk(top):
            for name in names:
                if OID_RE.match(name):
                    with contextlib.suppress(FileNotFoundError):
                        st = os.stat(os.path.join(dirpath, name))
                        yield StoredObject(name, st.st_size, st.st_mtime)

    def stat(self, oid: str) -> StoredObject | None:
        try:
            st = self.path(oid).stat()
        except FileNotFoundError:
            return None
        return StoredObject(oid, st.st_size, st.st_mtime)

    # --- multipart uploads ----------------------------------------------------------------

    def multipart_dir(self, key: str) -> Path:
        return self.tmp_dir / f"mp-{key}"

    def part_writer(self, key: str, part: int, chunk_size: int) -> LocalPartWriter:
        """A writer for part `part` (from 1) of upload `key`, whose parts are `chunk_size` bytes apart.

        Raises UploadInProgress if the upload is being completed."""
        return LocalPartWriter(self, key, part, chunk_size)

    def _claim_part(self, key: str, part: int, fd: int, ident: tuple[int, int]) -> tuple[_Multipart | None, Any]:
        """The running hash to extend if `part` is the next in order for `key` here, else (None, None)."""
        now = time.monotonic()
        with self._mp_lock:
            for k, old in list(self._multipart.items()):
                if now - old.touched > 3600 and not old.busy:
                    old.close()
                    del self._multipart[k]
            mp = self._multipart.get(key)
            if mp is not None and mp.ident != ident and not mp.busy:  # an earlier upload under the same key
                mp.close()
                del self._multipart[key]
                mp = None
            if mp is None and part == 1:
                pin = _reopen(fd, ident)
                if pin is None:
                    return None, None
                mp = self._multipart[key] = _Multipart(pin, ident)
            if mp is None or mp.busy or mp.ident != ident or part != mp.next:
                return None, None
            mp.busy, mp.touched = True, now
            return mp, (mp.hashed[part - 1][1].copy() if part > 1 else hashlib.sha256())

    def _part_done(self, mp: _Multipart | None, part: int, size: int, hasher: Any) -> None:
        if mp is None:
            return
        with self._mp_lock:
            mp.busy, mp.touched = False, time.monotonic()
            if hasher is not None and mp.next == part:
                mp.hashed[part] = (size, hasher)
                mp.next = part + 1

    def join_parts(self, key: str, oid: str, size: int) -> None:
        """Publish the parts of `key`, in part order, as object `oid`; BlobMismatch unless size and sha256 agree.

        FileNotFoundError if no part was ever sent. The upload's directory is claimed by renaming it, so
        concurrent completions cannot interleave, and parts still being written are waited for."""
        directory = self.multipart_dir(key)
        claimed = directory.with_name(f"{directory.name}.join-{secrets.token_hex(8)}")
        os.rename(directory, claimed)
        with self._mp_lock:
            mp = self._multipart.pop(key, None)
        keep = False
        try:
            self._join(claimed, mp, oid, size)
        except UploadInProgress:
            with contextlib.suppress(OSError):
                os.rename(claimed, directory)  # hand the parts back for a later completion
                keep = True
            raise
        finally:
            if mp is not None:
                mp.close()
            if not keep:
                shutil.rmtree(claimed, ignore_errors=True)

    def _join(self, claimed: Path, mp: _Multipart | None, oid: str, size: int) -> None:
        data = claimed / "data"
        fd = os.open(data, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            deadline = time.monotonic() + _LOCK_WAIT
            while True:  # parts that opened the file before the rename finish first
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() > deadline:
                        raise UploadInProgress("Parts of this upload are still being received") from None
                    time.sleep(0.05)
            names = os.listdir(claimed)
            parts: list[tuple[int, int, int]] = []  # (part, offset, size), in part order
            for name in sorted(names):
                if m := _MARKER_RE.match(name):
                    offset, length = map(int, (claimed / name).read_text().split())
                    parts.append((int(m.group(1)), offset, length))
            contiguous = all(p[1] == (parts[i - 1][1] + parts[i - 1][2] if i else 0) for i, p in enumerate(parts))
            if not contiguous:  # a gap, or a short part before the last: lay the parts end to end
                self._compact(fd, claimed, parts, oid, size)
                return
            total = parts[-1][1] + parts[-1][2] if parts else 0
            hasher, done = hashlib.sha256(), 0
            st = os.fstat(fd)
            if mp is not None and mp.ident == (st.st_dev, st.st_ino):
                for number, _offset, length in parts:
                    h = mp.hashed.get(number)
                    if h is None or h[0] != length or f"dirty-{number:05d}" in names:
                        break
                    hasher, done = h[1], done + length
            if total > size:
                raise _mismatch(total, "(not computed)", size, oid)
            _hash_range(fd, hasher, done, total)
            actual = hasher.hexdigest()
            if total != size or actual != oid:
                raise _mismatch(total, actual, size, oid)
            if st.st_size != total:
                os.ftruncate(fd, total)
        finally:
            os.close(fd)
        self._publish(data, oid)

    def _compact(self, fd: int, claimed: Path, parts: list[tuple[int, int, int]], oid: str, size: int) -> None:
        out = self.writer()
        try:
            for _number, offset, length in parts:
                for chunk in _read_range(fd, offset, offset + length):
                    out.write(chunk)
                if out.size > size:
                    break
            out.commit(oid, size)
        except BaseException:
            out.abort()
            raise

    # --- internals --------------------------------------------------------------------------

    def _publish(self, tmp: Path, oid: str) -> None:
        dest = self.path(oid)
        with contextlib.suppress(FileNotFoundError):
            if dest.stat().st_size == tmp.stat().st_size:
                # Content-addressed and verified: the same bytes are already in place. Replacing them would
                # only make the filesystem flush the new copy and free the old one. Its time is renewed, so
                # garbage collection sees a fresh upload (its grace period starts again) until it is committed.
                os.utime(dest)
                tmp.unlink()
                return
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
                if p.is_dir():  # a multipart upload: stale once neither it nor anything in it changed lately
                    if max([p.stat().st_mtime, *(c.stat().st_mtime for c in p.iterdir())]) < cutoff:
                        shutil.rmtree(p, ignore_errors=True)
                elif p.stat().st_mtime < cutoff:
                    p.unlink()


def _reopen(fd: int, ident: tuple[int, int]) -> int | None:
    """A new read-only descriptor of the file `fd` is open on: it keeps the inode, not `fd`'s lock."""
    try:
        new = os.open(f"/proc/self/fd/{fd}", os.O_RDONLY)
    except OSError:
        return None
    st = os.fstat(new)
    if (st.st_dev, st.st_ino) != ident:
        os.close(new)
        return None
    return new


def _touch(path: Path) -> None:
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o644))


def _write_all(fd: int, data: bytes, offset: int | None) -> None:
    """Write all of `data` (at `offset`, or at the file position); a single write may be short."""
    view, done = memoryview(data), 0
    while done < len(data):
        chunk = view[done:] if done else data
        n = os.write(fd, chunk) if offset is None else os.pwrite(fd, chunk, offset + done)
        done += n


def _read_range(fd: int, start: int, end: int):  # type: ignore[no-untyped-def]
    buf = bytearray(READ_CHUNK)
    view = memoryview(buf)
    pos = start
    while pos < end:
        n = os.preadv(fd, [view[: min(READ_CHUNK, end - pos)]], pos)
        if n == 0:
            yield bytes(end - pos)  # never written: a hole reads as zeros
            return
        yield view[:n]
        pos += n


def _hash_range(fd: int, hasher: Any, start: int, end: int) -> None:
    for chunk in _read_range(fd, start, end):
        hasher.update(chunk)
