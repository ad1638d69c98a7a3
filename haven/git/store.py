"""Bare git repositories on disk: read trees and blobs, write commits, move refs atomically.

Paths, bytes and ids in; plain dataclasses out. Knows nothing of HTTP or the database.
Reads go through libgit2 (pygit2); ref updates go through `git update-ref`, whose
compare-and-swap under git's own lock file also guards against concurrent `git push`.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pygit2
from pygit2.enums import FileMode, ObjectType, SortMode

from haven.git.lfs import MAX_POINTER_SIZE, Pointer, parse_pointer

HEX40 = re.compile(r"^[0-9a-f]{40}$")
SHORT_HEX = re.compile(r"^[0-9a-f]{4,40}$")
ZERO = "0" * 40
STALE_LOCK = 30.0  # seconds
# A lock file older than this process was left by an earlier server that died (kill -9, power loss) between
# taking a ref's lock and renaming it: stale at once, so a restarted server does not refuse commits for a while.
_STARTED = time.time()
_LOCK_RE = re.compile(r"Unable to create '([^']+\.lock)': File exists")


class RefUpdateConflict(Exception):
    """The ref moved between reading it and updating it."""


@dataclass(frozen=True, slots=True)
class BlobInfo:
    oid: str  # git blob sha1
    size: int  # size of the content (the LFS object size for pointers)
    pointer: Pointer | None
    pointer_size: int


@dataclass(frozen=True, slots=True)
class Entry:
    path: str
    type: str  # "file" | "directory"
    oid: str
    size: int = 0
    pointer: Pointer | None = None
    pointer_size: int = 0


@dataclass(frozen=True, slots=True)
class CommitInfo:
    id: str
    title: str
    message: str
    author_name: str
    author_email: str
    date: datetime
    parents: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Put:
    path: str
    blob_oid: str


@dataclass(frozen=True, slots=True)
class Delete:
    path: str


@dataclass(frozen=True, slots=True)
class DeleteFolder:
    path: str


Change = Put | Delete | DeleteFolder


class ChangeError(ValueError):
    """A change that cannot apply to the tree (missing file, file/folder clash)."""

    def __init__(self, message: str, *, missing: bool = False) -> None:
        super().__init__(message)
        self.missing = missing


_blob_cache: OrderedDict[str, BlobInfo] = OrderedDict()
_blob_cache_lock = threading.Lock()
_BLOB_CACHE_SIZE = 100_000


class GitRepo:
    """One bare repository. Cheap to construct per request thread; see `open_repo`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.repo = pygit2.Repository(str(path))

    # --- creation -------------------------------------------------------------------------

    @staticmethod
    def init(path: Path) -> GitRepo:
        path.parent.mkdir(exist_ok=True)  # the shard only: the repositories' root is setup's (Hub.open) to make
        pygit2.init_repository(str(path), bare=True, initial_head="main")
        cfg = pygit2.Config(str(path / "config"))
        cfg["http.receivepack"] = "true"
        cfg["uploadpack.allowFilter"] = "true"
        cfg["uploadpack.allowAnySHA1InWant"] = "true"
        cfg["receive.denyDeleteCurrent"] = "true"
        return GitRepo(path)

    # --- reading --------------------------------------------------------------------------

    def resolve(self, rev: str) -> str | None:
        """The commit id a branch, tag, full ref, or (short) commit id names; None if nothing does."""
        refs = self.repo.references
        candidates = [rev] if rev.startswith("refs/") else [f"refs/heads/{rev}", f"refs/tags/{rev}"]
        for name in candidates:
            try:
                ref = refs.get(name)
            except (pygit2.InvalidSpecError, ValueError):
                ref = None
            if ref is not None:
                obj = ref.peel(pygit2.Commit)
                return str(obj.id)
        if SHORT_HEX.match(rev):
            try:
                obj = self.repo[rev] if len(rev) == 40 else self.repo.revparse_single(rev)
            except (KeyError, ValueError, pygit2.GitError):
                return None
            if obj.type == ObjectType.COMMIT:
                return str(obj.id)
            if obj.type == ObjectType.TAG:
                return str(obj.peel(pygit2.Commit).id)
        return None

    def refs(self) -> dict[str, str]:
        """Every ref name with the commit it points at."""
        out = {}
        for ref in self.repo.references.iterator():
            if ref.type != pygit2.enums.ReferenceType.DIRECT:
                continue
            try:
                out[ref.name] = str(ref.peel(pygit2.Commit).id)
            except (pygit2.InvalidSpecError, ValueError):
                continue
        return out

    def ref(self, name: str) -> str | None:
        ref = self.repo.references.get(name)
        return str(ref.target) if ref is not None else None

    def blob_info(self, oid: str) -> BlobInfo:
        """Size and LFS pointer of a blob; cached, since blobs never change."""
        with _blob_cache_lock:
            info = _blob_cache.get(oid)
        if info is not None:
            return info
        _, size = self.repo.odb.read_header(oid)
        pointer = None
        if size <= MAX_POINTER_SIZE:
            pointer = parse_pointer(self.repo[oid].data)
        info = BlobInfo(oid, pointer.size if pointer else size, pointer, size if pointer else 0)
        with _blob_cache_lock:
            _blob_cache[oid] = info
            if len(_blob_cache) > _BLOB_CACHE_SIZE:
                _blob_cache.popitem(last=False)
        return info

    def read_blob(self, oid: str) -> bytes:
        return self.repo[oid].data

    def entry(self, commit: str, path: str) -> Entry | None:
        """The file or directory at `path` in `commit` ("" is the root)."""
        tree = self.repo[commit].peel(pygit2.Tree)
        if path == "":
            return Entry("", "directory", str(tree.id))
        try:
            obj = tree[path]
        except (KeyError, ValueError):
            return None
        return self._entry(path, obj)

    def _entry(self, path: str, obj: pygit2.Object) -> Entry | None:
        if obj.type == ObjectType.TREE:
            return Entry(path, "directory", str(obj.id))
        if obj.type != ObjectType.BLOB:
            return None  # submodules are not files
        info = self.blob_info(str(obj.id))
        return Entry(path, "file", info.oid, info.size, info.pointer, info.pointer_size)

    def list_tree(self, commit: str, path: str = "", recursive: bool = False) -> Iterator[Entry]:
        """Entries under a directory, directories before their contents, in git's order."""
        root = self.repo[commit].peel(pygit2.Tree)
        tree = root if path == "" else root[path]
        if tree.type != ObjectType.TREE:
            raise NotADirectoryError(path)
        yield from self._walk(tree, path, recursive)

    def _walk(self, tree: pygit2.Tree, prefix: str, recursive: bool) -> Iterator[Entry]:
        for obj in tree:
            path = f"{prefix}/{obj.name}" if prefix else obj.name
            entry = self._entry(path, obj)
            if entry is None:
                continue
            yield entry
            if recursive and entry.type == "directory":
                yield from self._walk(obj, path, True)

    def file_paths(self, commit: str, limit: int) -> list[str]:
        """Paths of up to `limit` files of `commit`, in tree order, without reading any blob (list_tree reads
        each one's header, which costs about 0.1 ms a file on a cold cache)."""
        out: list[str] = []
        stack = [("", self.repo[commit].peel(pygit2.Tree))]
        while stack and len(out) < limit:
            prefix, tree = stack.pop()
            subtrees = []
            for obj in tree:
                path = f"{prefix}{obj.name}"
                if obj.type == ObjectType.TREE:
                    subtrees.append((f"{path}/", obj))
                elif obj.type == ObjectType.BLOB and len(out) < limit:
                    out.append(path)
            stack.extend(reversed(subtrees))
        return out

    def commit_info(self, commit: str) -> CommitInfo:
        c = self.repo[commit].peel(pygit2.Commit)
        return _commit_info(c)

    def log(self, commit: str, skip: int = 0, limit: int = 50) -> list[CommitInfo]:
        walker = self.repo.walk(commit, SortMode.TOPOLOGICAL | SortMode.TIME)
        out = []
        for i, c in enumerate(walker):
            if i < skip:
                continue
            if len(out) >= limit:
                break
            out.append(_commit_info(c))
        return out

    def count_commits(self, commit: str) -> int:
        return sum(1 for _ in self.repo.walk(commit, SortMode.NONE))

    def last_commit_for(self, commit: str, path: str) -> CommitInfo | None:
        """The newest commit (first-parent history) that changed `path`."""
        current = self.repo[commit].peel(pygit2.Commit)
        target = _tree_oid(current.tree, path)
        while True:
            parents = current.parents
            if not parents:
                return _commit_info(current) if target is not None else None
            parent = parents[0]
            if _tree_oid(parent.tree, path) != target:
                return _commit_info(current)
            current = parent

    # --- writing --------------------------------------------------------------------------

    def write_blob(self, data: bytes) -> str:
        return str(self.repo.create_blob(data))

    def build_tree(self, parent: str | None, changes: list[Change]) -> str:
        """Apply changes, in order, to the parent's tree; returns the new tree id."""
        index = pygit2.Index()
        if parent is not None:
            index.read_tree(self.repo[parent].peel(pygit2.Tree))
        files = {e.path for e in index}
        for change in changes:
            if isinstance(change, Put):
                _check_put(files, change.path)
                index.add(pygit2.IndexEntry(change.path, pygit2.Oid(hex=change.blob_oid), FileMode.BLOB))
                files.add(change.path)
            elif isinstance(change, Delete):
                if change.path not in files:
                    raise ChangeError(f"A file with this name doesn't exist: {change.path}", missing=True)
                index.remove(change.path)
                files.discard(change.path)
            else:
                prefix = change.path.rstrip("/") + "/"
                doomed = [p for p in files if p.startswith(prefix)]
                if not doomed:
                    raise ChangeError(f"A folder with this name doesn't exist: {change.path}", missing=True)
                for p in doomed:
                    index.remove(p)
                    files.discard(p)
        return str(index.write_tree(self.repo))

    def write_commit(
        self,
        tree: str,
        parents: list[str],
        message: str,
        author: tuple[str, str],
        when: datetime | None = None,
    ) -> str:
        """Write a commit object (no ref moves)."""
        ts = int((when or datetime.now(UTC)).timestamp())
        sig = pygit2.Signature(author[0], author[1], ts, 0)
        oid = self.repo.create_commit(
            None, sig, sig, message, pygit2.Oid(hex=tree), [pygit2.Oid(hex=p) for p in parents]
        )
        return str(oid)

    def disk_usage(self) -> int:
        """Bytes the repository's git objects take on disk."""
        total = 0
        for root, _, names in os.walk(self.path / "objects"):
            for n in names:
                with contextlib.suppress(FileNotFoundError):
                    total += os.stat(os.path.join(root, n)).st_size
        return total

    def tree_of(self, commit: str) -> str:
        return str(self.repo[commit].peel(pygit2.Tree).id)

    def update_ref(self, name: str, new: str, old: str | None) -> None:
        """Move `name` to `new` only if it still points at `old` (None: only if it does not exist)."""
        self._update_ref(["update-ref", "-m", "haven", name, new, old or ZERO])

    def delete_ref(self, name: str, old: str) -> None:
        self._update_ref(["update-ref", "-d", name, old])

    def _update_ref(self, args: list[str]) -> None:
        for attempt in range(2):
            proc = subprocess.run(
                ["git", "--git-dir", str(self.path), *args], capture_output=True, text=True, check=False
            )
            if proc.returncode == 0:
                return
            if attempt == 0 and self._remove_stale_lock(proc.stderr):
                continue
            raise RefUpdateConflict(proc.stderr.strip())

    def _remove_stale_lock(self, stderr: str) -> bool:
        """A ref lock left by a killed process blocks the ref forever; git holds live ones for milliseconds."""
        m = _LOCK_RE.search(stderr)
        if not m:
            return False
        lock = Path(m.group(1))
        try:
            if lock.resolve().is_relative_to(self.path.resolve()) and _stale(lock.stat().st_mtime):
                lock.unlink()
                return True
        except (FileNotFoundError, ValueError):
            return True  # already gone: worth one retry
        return False


def _stale(mtime: float) -> bool:
    return mtime < _STARTED or time.time() - mtime > STALE_LOCK


def _check_put(files: set[str], path: str) -> None:
    parts = path.split("/")
    for i in range(1, len(parts)):
        if "/".join(parts[:i]) in files:
            raise ChangeError(f"Cannot add {path}: {'/'.join(parts[:i])} is a file")
    prefix = path + "/"
    if any(p.startswith(prefix) for p in files):
        raise ChangeError(f"Cannot add {path}: a folder with this name exists")


def _tree_oid(tree: pygit2.Tree, path: str) -> pygit2.Oid | None:
    if path == "":
        return tree.id
    try:
        return tree[path].id
    except KeyError:
        return None


def _commit_info(c: pygit2.Commit) -> CommitInfo:
    message = c.message
    title = message.split("\n", 1)[0]
    body = message.split("\n", 1)[1].lstrip("\n") if "\n" in message else ""
    return CommitInfo(
        id=str(c.id),
        title=title,
        message=body.rstrip("\n"),
        author_name=c.author.name,
        author_email=c.author.email,
        date=datetime.fromtimestamp(c.commit_time, UTC).replace(tzinfo=None),
        parents=tuple(str(p) for p in c.parent_ids),
    )


_local = threading.local()
_REPO_CACHE_SIZE = 32


def open_repo(path: Path) -> GitRepo:
    """A per-thread cached handle: libgit2 handles must not be shared between threads."""
    cache: OrderedDict[Path, GitRepo] | None = getattr(_local, "repos", None)
    if cache is None:
        cache = _local.repos = OrderedDict()
    repo = cache.get(path)
    if repo is None:
        repo = cache[path] = GitRepo(path)
        if len(cache) > _REPO_CACHE_SIZE:
            cache.popitem(last=False)
    else:
        cache.move_to_end(path)
    return repo


def forget_repo(path: Path) -> None:
    cache = getattr(_local, "repos", None)
    if cache is not None:
        cache.pop(path, None)
