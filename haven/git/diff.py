"""What changed between two commits: per file, its old and new blob, and a line diff for small text files."""

from __future__ import annotations

import difflib
from dataclasses import dataclass

import pygit2

from haven.git.store import BlobInfo, CommitInfo, GitRepo

MAX_DIFF_BYTES = 512 * 1024  # larger text files are listed without their lines
MAX_FILES = 300


@dataclass(frozen=True)
class FileDiff:
    path: str
    old_path: str | None
    status: str  # added | deleted | modified | renamed
    old: BlobInfo | None
    new: BlobInfo | None
    lines: list[tuple[str, str]] | None  # (" " | "+" | "-" | "@", text); None: binary, LFS or too large
    note: str = ""

    @property
    def additions(self) -> int:
        return sum(1 for k, _ in self.lines or [] if k == "+")

    @property
    def deletions(self) -> int:
        return sum(1 for k, _ in self.lines or [] if k == "-")


_STATUS = {
    pygit2.enums.DeltaStatus.ADDED: "added",
    pygit2.enums.DeltaStatus.DELETED: "deleted",
    pygit2.enums.DeltaStatus.MODIFIED: "modified",
    pygit2.enums.DeltaStatus.RENAMED: "renamed",
}


def diff_commits(git: GitRepo, old: str | None, new: str) -> tuple[list[FileDiff], bool]:
    """Changes from `old` (None: the empty tree) to `new`, and whether the list was cut at MAX_FILES."""
    repo = git.repo
    new_tree = repo[new].peel(pygit2.Tree)
    diff = new_tree.diff_to_tree(swap=True) if old is None else repo.diff(repo[old].peel(pygit2.Tree), new_tree)
    diff.find_similar()
    out = []
    for i, delta in enumerate(diff.deltas):
        if i >= MAX_FILES:
            return out, True
        old_blob = None if delta.old_file.id.raw == bytes(20) else git.blob_info(str(delta.old_file.id))
        new_blob = None if delta.new_file.id.raw == bytes(20) else git.blob_info(str(delta.new_file.id))
        status = _STATUS.get(delta.status, "modified")
        lines, note = _lines(git, old_blob, new_blob)
        out.append(
            FileDiff(
                path=delta.new_file.path,
                old_path=delta.old_file.path if status == "renamed" else None,
                status=status,
                old=old_blob,
                new=new_blob,
                lines=lines,
                note=note,
            )
        )
    return out, False


def _text(git: GitRepo, info: BlobInfo | None) -> str | None:
    if info is None:
        return ""
    if info.pointer is not None or info.size > MAX_DIFF_BYTES:
        return None
    data = git.read_blob(info.oid)
    if b"\x00" in data[:8192]:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _lines(git: GitRepo, old: BlobInfo | None, new: BlobInfo | None) -> tuple[list[tuple[str, str]] | None, str]:
    if (old is not None and old.pointer is not None) or (new is not None and new.pointer is not None):
        return None, "lfs"
    a, b = _text(git, old), _text(git, new)
    if a is None or b is None:
        too_large = any(x is not None and x.size > MAX_DIFF_BYTES for x in (old, new))
        return None, "large" if too_large else "binary"
    out: list[tuple[str, str]] = []
    for line in difflib.unified_diff(a.splitlines(), b.splitlines(), lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        kind = "@" if line.startswith("@@") else line[:1] or " "
        out.append((kind, line[1:] if kind != "@" else line))
    return out, ""


def last_commits(git: GitRepo, commit: str, directory: str, names: list[str]) -> dict[str, CommitInfo]:
    """The newest commit (first-parent history) that changed each entry of `directory`, in one walk.

    A commit whose `directory` tree equals its parent's is skipped with one comparison, so entries deep in
    a quiet folder cost little; the walk stops as soon as every entry has its commit."""
    repo = git.repo
    current = repo[commit].peel(pygit2.Commit)
    todo = set(names)
    found: dict[str, CommitInfo] = {}
    tree = _subtree(current.tree, directory)
    while todo and tree is not None:
        parent = current.parents[0] if current.parents else None
        parent_tree = _subtree(parent.tree, directory) if parent is not None else None
        if parent_tree is None or parent_tree.id != tree.id:
            changed = {n for n in todo if _child_id(tree, n) != _child_id(parent_tree, n)}
            if changed:
                info = git.commit_info(str(current.id))
                for n in changed:
                    found[n] = info
                todo -= changed
        if parent is None:
            break
        current, tree = parent, parent_tree
    return found


def _subtree(tree: pygit2.Tree, path: str) -> pygit2.Tree | None:
    if not path:
        return tree
    try:
        obj = tree[path]
    except KeyError:
        return None
    return obj if obj.type == pygit2.enums.ObjectType.TREE else None


def _child_id(tree: pygit2.Tree | None, name: str) -> pygit2.Oid | None:
    if tree is None:
        return None
    try:
        return tree[name].id
    except KeyError:
        return None
