"""Merging one line of history into another: fast-forward, or a two-parent commit when the paths
each side changed do not overlap. Writes objects only; moving refs is the caller's business."""

from __future__ import annotations

import pygit2

from haven.git.store import CommitInfo, GitRepo

MAX_PATCH = 1_000_000  # characters of unified diff handed to API clients


class MergeConflict(Exception):
    """Both sides changed the same paths since they diverged."""

    def __init__(self, paths: list[str]) -> None:
        super().__init__(", ".join(paths))
        self.paths = paths


def merge_base(git: GitRepo, a: str, b: str) -> str | None:
    oid = git.repo.merge_base(pygit2.Oid(hex=a), pygit2.Oid(hex=b))
    return str(oid) if oid is not None else None


def changed_paths(git: GitRepo, old: str, new: str) -> set[str]:
    """Every path added, removed or modified from commit `old` to commit `new` (renames count both names)."""
    repo = git.repo
    diff = repo.diff(repo[old].peel(pygit2.Tree), repo[new].peel(pygit2.Tree))
    return {p for d in diff.deltas for p in (d.old_file.path, d.new_file.path)}


def conflicts(git: GitRepo, target: str, head: str) -> list[str]:
    """Paths that `head` changed and `target` also changed since their merge base, sorted."""
    base = merge_base(git, target, head)
    if base is None:
        return sorted(changed_paths(git, target, head))  # unrelated histories: everything they differ in
    if base in (target, head):
        return []
    return sorted(changed_paths(git, base, target) & changed_paths(git, base, head))


def merge(git: GitRepo, target: str, head: str, message: str, author: tuple[str, str]) -> str:
    """The commit `target` should move to so that it contains `head`: `head` itself when `target` is its
    ancestor (fast-forward), else a new merge commit with parents (target, head). Raises MergeConflict,
    or ValueError when `head` is already contained in `target` (nothing to merge)."""
    base = merge_base(git, target, head)
    if base == head:
        raise ValueError("nothing to merge: the branch already contains these commits")
    if base == target:
        return head
    clashing = conflicts(git, target, head)
    if clashing or base is None:
        raise MergeConflict(clashing or ["(unrelated histories)"])
    repo = git.repo
    index = repo.merge_trees(pygit2.Oid(hex=base), pygit2.Oid(hex=target), pygit2.Oid(hex=head))
    if index.conflicts is not None:
        raise MergeConflict(sorted({e.path for entries in index.conflicts for e in entries if e is not None}))
    tree = str(index.write_tree(repo))
    return git.write_commit(tree, [target, head], message, author)


def between(git: GitRepo, old: str | None, new: str, limit: int = 50) -> list[CommitInfo]:
    """Commits reachable from `new` but not from `old`, oldest first (at most the newest `limit`)."""
    walker = git.repo.walk(pygit2.Oid(hex=new), pygit2.enums.SortMode.TOPOLOGICAL)
    if old is not None:
        walker.hide(pygit2.Oid(hex=old))
    out = [git.commit_info(str(c.id)) for _, c in zip(range(limit), walker, strict=False)]
    return out[::-1]


def patch(git: GitRepo, target: str, head: str) -> str:
    """The unified diff of what `head` brings over its merge base with `target` (cut at MAX_PATCH)."""
    base = merge_base(git, target, head) or target
    repo = git.repo
    text = repo.diff(repo[base].peel(pygit2.Tree), repo[head].peel(pygit2.Tree)).patch or ""
    return text[:MAX_PATCH]
