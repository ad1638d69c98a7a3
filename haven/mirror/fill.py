"""Fetching one upstream file into the blob store while clients read it.

The first request for a file not yet cached starts a fill: a thread copies the upstream's bytes into a
temporary file, hashing them, and publishes the file under its sha256 once it verifies. Readers (the
first client and any that ask meanwhile) read the temporary file as it grows, so the first byte reaches
the client as soon as the upstream sends it, and the upstream is asked once however many clients wait.
Fills are per server process.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from haven.storage.local import LocalBlobStore

log = logging.getLogger("haven.mirror")
CHUNK = 1 << 20

Source = Callable[[], AbstractContextManager[Any]]  # opens an upstream.Body


class FillFailed(Exception):
    pass


class Fill:
    """One object being copied from the upstream; readers follow `written`."""

    def __init__(self, store: LocalBlobStore, oid: str, size: int) -> None:
        self.store, self.oid, self.size = store, oid, size
        self.tmp = store.tmp_dir / f"mirror-{oid[:16]}-{secrets.token_hex(6)}"
        self.tmp.touch()
        self.written = 0
        self.published = False
        self.error: str | None = None
        self.cond = threading.Condition()

    def run(self, source: Source, done: Callable[[Fill], None]) -> None:
        try:
            self._copy(source)
            with self.cond:
                _publish(self.store, self.tmp, self.oid)
                self.published = True
        except Exception as e:
            log.warning("mirror fill of %s failed: %s", self.oid, e)
            with self.cond:
                self.error = str(e) or type(e).__name__
            self.tmp.unlink(missing_ok=True)
        finally:
            done(self)
            with self.cond:
                self.cond.notify_all()

    def _copy(self, source: Source) -> None:
        log.info("mirror: fetching %s (%d bytes) from the upstream", self.oid, self.size)
        hasher = hashlib.sha256()
        with open(self.tmp, "r+b", buffering=0) as out, source() as response:
            for chunk in response.chunks(CHUNK):
                if self.written + len(chunk) > self.size:
                    raise FillFailed(f"upstream sent more than the {self.size} bytes of {self.oid}")
                _write_all(out, chunk)
                hasher.update(chunk)
                with self.cond:
                    self.written += len(chunk)
                    self.cond.notify_all()
        if self.written != self.size or hasher.hexdigest() != self.oid:
            raise FillFailed(f"upstream bytes of {self.oid} do not match its pointer (size {self.written})")

    def wait_started(self, timeout: float) -> bool:
        """Whether the upstream started sending (False: it failed, or sent nothing within `timeout`)."""
        with self.cond:
            self.cond.wait_for(lambda: self.written > 0 or self.published or self.error is not None, timeout)
            return self.error is None and (self.written > 0 or self.published)

    def read(self, start: int, end: int) -> Iterator[bytes]:
        """Bytes start..end (inclusive) as they arrive; raises FillFailed if the fill fails first."""
        with self.cond:
            path = self.store.path(self.oid) if self.published else self.tmp
            fd = os.open(path, os.O_RDONLY)  # opened under the lock: publishing renames, the fd keeps the inode
        try:
            pos = start
            while pos <= end:
                with self.cond:
                    while self.written <= pos and not self.published and self.error is None:
                        self.cond.wait(timeout=1.0)
                    if self.error is not None and self.written <= pos:
                        raise FillFailed(self.error)
                    available = self.size if self.published else self.written
                chunk = os.pread(fd, min(CHUNK, available - pos, end + 1 - pos), pos)
                if not chunk:
                    raise FillFailed(f"{self.oid}: read past the bytes written")
                pos += len(chunk)
                yield chunk
        finally:
            os.close(fd)


def _write_all(out: Any, data: memoryview) -> None:
    while data:
        data = data[out.write(data) :]


def _publish(store: LocalBlobStore, tmp: Any, oid: str) -> None:
    """Move the verified file into place (a rename on the local store; a copy through a writer elsewhere)."""
    publish = getattr(store, "_publish", None)
    if publish is not None:
        publish(tmp, oid)
        return
    writer = store.writer()
    with open(tmp, "rb") as f:
        while data := f.read(CHUNK):
            writer.write(data)
    writer.commit(oid, os.path.getsize(tmp))
    tmp.unlink()


class Fills:
    """The fills running in this process, one per object."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[str, Fill] = {}

    def get_or_start(self, store: LocalBlobStore, oid: str, size: int, source: Source) -> Fill | None:
        """The running fill of `oid`, or a new one; None when the object is already stored."""
        with self._lock:
            fill = self._running.get(oid)
            if fill is not None:
                return fill
            if store.size(oid) is not None:
                return None
            fill = self._running[oid] = Fill(store, oid, size)
        threading.Thread(target=fill.run, args=(source, self._done), name=f"mirror-{oid[:8]}", daemon=True).start()
        return fill

    def _done(self, fill: Fill) -> None:
        with self._lock, contextlib.suppress(KeyError):
            if self._running[fill.oid] is fill:
                del self._running[fill.oid]


FILLS = Fills()
