"""Positioned reads of a repository file wherever its bytes live: a git blob, a local LFS blob, or Xet chunks.

Only the bytes asked for are read: an LFS blob with pread, a Xet file by rebuilding just the chunks that
cover the range. A Budget shared by one job's sources caps what the job reads in all."""

from __future__ import annotations

from haven.cas import service as cas
from haven.formats import FormatError
from haven.git.store import Entry, GitRepo
from haven.hub import Hub
from haven.storage import cache as blob_cache


class Budget:
    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, n: int) -> None:
        self.left -= n
        if self.left < 0:
            raise FormatError("this commit's files ask for more header bytes than one metadata job reads")


class EntrySource:
    """A formats.Source over one file of a commit."""

    def __init__(self, hub: Hub, git: GitRepo, entry: Entry, budget: Budget) -> None:
        self.hub, self.git, self.entry, self.budget = hub, git, entry, budget
        self.size = entry.size
        self._blob: bytes | None = None
        self._xet: cas.XetFileInfo | None = None

    def read(self, offset: int, n: int) -> bytes:
        n = max(0, min(n, self.size - offset))
        if n == 0:
            return b""
        self.budget.spend(n)
        pointer = self.entry.pointer
        if pointer is None:
            if self._blob is None:
                self._blob = self.git.read_blob(self.entry.oid)
            return self._blob[offset : offset + n]
        data = blob_cache.read_range(self.hub.blobs, pointer.oid, offset, n)
        if data is not None:
            return data
        if self._xet is None:
            self._xet = cas.file_by_sha256(self.hub, pointer.oid)
            if self._xet is None:
                raise FormatError("the file's bytes are missing from storage")
        return b"".join(cas.iter_file(self.hub, self._xet, offset, offset + n - 1))
