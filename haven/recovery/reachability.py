"""What a repository's refs reach: every commit, tree and blob, and the LFS pointers among those blobs.

Every ref counts (branches, tags, refs/pr/* of pull requests, refs/convert/* of the dataset viewer), and
every commit of their history: any of them can be checked out or downloaded by revision. Objects the walk
needs but cannot read are collected as missing instead of stopping it, so one walk serves fsck (which
reports them), gc (which refuses to collect when the picture is incomplete) and restore (which rebuilds
the database's view of a repository from it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pygit2
from pygit2.enums import ObjectType

from haven.git.lfs import MAX_POINTER_SIZE, parse_pointer


@dataclass
class Reach:
    refs: dict[str, str] = field(default_factory=dict)  # ref name -> the object it names
    broken_refs: dict[str, str] = field(default_factory=dict)  # ref -> target that is no readable commit
    pointers: dict[str, int] = field(default_factory=dict)  # LFS oid -> size, as the pointers say
    where: dict[str, str] = field(default_factory=dict)  # LFS oid -> a commit whose tree holds it
    missing: dict[str, str] = field(default_factory=dict)  # object id -> what needed it
    commits: int = 0

    @property
    def complete(self) -> bool:
        return not self.broken_refs and not self.missing


def ref_targets(repo: pygit2.Repository) -> dict[str, str]:
    """Every direct ref with the raw id it stores (which may name a missing object)."""
    out = {}
    for ref in repo.references.iterator():
        if ref.type == pygit2.enums.ReferenceType.DIRECT:
            out[ref.name] = str(ref.target)
    return out


def walk(path: Path, refs: dict[str, str] | None = None) -> Reach:
    """Walk from `refs` (default: the repository's own) through all history."""
    repo = pygit2.Repository(str(path))
    reach = Reach(refs=ref_targets(repo) if refs is None else dict(refs))
    walker = _Walker(repo, reach)
    for name, target in sorted(reach.refs.items()):
        commit = walker.peel(target)
        if commit is None:
            reach.broken_refs[name] = target
        else:
            walker.commit_history(commit)
    return reach


class _Walker:
    def __init__(self, repo: pygit2.Repository, reach: Reach) -> None:
        self.repo, self.reach = repo, reach
        self.seen_commits: set[str] = set()
        self.seen_trees: set[str] = set()
        self.seen_blobs: set[str] = set()

    def get(self, oid: str) -> pygit2.Object | None:
        try:
            return self.repo[oid]
        except (KeyError, ValueError, pygit2.GitError):
            return None

    def peel(self, target: str) -> str | None:
        """The commit a ref's target is, or an annotated tag leads to; None if there is none."""
        obj = self.get(target)
        while obj is not None and obj.type == ObjectType.TAG:
            obj = self.get(str(obj.target))
        return str(obj.id) if obj is not None and obj.type == ObjectType.COMMIT else None

    def commit_history(self, start: str) -> None:
        stack = [start]
        while stack:
            oid = stack.pop()
            if oid in self.seen_commits:
                continue
            self.seen_commits.add(oid)
            commit = self.get(oid)
            if commit is None or commit.type != ObjectType.COMMIT:
                self.reach.missing[oid] = "commit"
                continue
            self.reach.commits += 1
            self.tree(str(commit.tree_id), oid)
            stack.extend(str(p) for p in commit.parent_ids)

    def tree(self, root: str, commit: str) -> None:
        stack = [root]
        while stack:
            oid = stack.pop()
            if oid in self.seen_trees:
                continue
            self.seen_trees.add(oid)
            tree = self.get(oid)
            if tree is None or tree.type != ObjectType.TREE:
                self.reach.missing[oid] = f"tree of commit {commit}"
                continue
            for entry in tree:
                if entry.type == ObjectType.TREE:
                    stack.append(str(entry.id))
                elif entry.type == ObjectType.BLOB:
                    self.blob(str(entry.id), commit)

    def blob(self, oid: str, commit: str) -> None:
        if oid in self.seen_blobs:
            return
        self.seen_blobs.add(oid)
        try:
            _kind, size = self.repo.odb.read_header(oid)
        except (KeyError, ValueError, pygit2.GitError):
            self.reach.missing[oid] = f"file of commit {commit}"
            return
        if size <= MAX_POINTER_SIZE and (pointer := parse_pointer(self.repo[oid].data)) is not None:
            self.reach.pointers.setdefault(pointer.oid, pointer.size)
            self.reach.where.setdefault(pointer.oid, commit)
