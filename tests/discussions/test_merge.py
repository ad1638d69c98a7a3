"""haven.git.merge on bare repositories: fast-forward, two-parent merges, conflicts, nothing to merge."""

from __future__ import annotations

from pathlib import Path

import pytest

from haven.git import merge
from haven.git.store import GitRepo, Put

ME = ("t", "t@example.org")


def _commit(git: GitRepo, parent: str | None, files: dict[str, bytes], msg: str = "c") -> str:
    tree = git.build_tree(parent, [Put(p, git.write_blob(data)) for p, data in files.items()])
    return git.write_commit(tree, [parent] if parent else [], msg, ME)


def _files(git: GitRepo, commit: str) -> dict[str, bytes]:
    return {e.path: git.read_blob(e.oid) for e in git.list_tree(commit, "", True) if e.type == "file"}


@pytest.fixture
def git(tmp_path: Path) -> GitRepo:
    return GitRepo.init(tmp_path / "r.git")


def test_fast_forward_when_the_target_did_not_move(git: GitRepo) -> None:
    base = _commit(git, None, {"a": b"1"})
    head = _commit(git, base, {"b": b"2"})
    assert merge.merge(git, base, head, "m", ME) == head
    assert merge.conflicts(git, base, head) == []


def test_disjoint_changes_make_a_two_parent_commit_with_both(git: GitRepo) -> None:
    base = _commit(git, None, {"a": b"1", "b": b"1"})
    target = _commit(git, base, {"a": b"target"})
    head = _commit(git, base, {"b": b"head", "c/d.txt": b"new"})
    merged = merge.merge(git, target, head, "Merge", ME)
    assert git.commit_info(merged).parents == (target, head)
    assert _files(git, merged) == {"a": b"target", "b": b"head", "c/d.txt": b"new"}


def test_the_same_path_changed_on_both_sides_is_a_conflict(git: GitRepo) -> None:
    base = _commit(git, None, {"a": b"1", "b": b"1"})
    target = _commit(git, base, {"a": b"target", "b": b"same"})
    head = _commit(git, base, {"a": b"head"})
    assert merge.conflicts(git, target, head) == ["a"]
    with pytest.raises(merge.MergeConflict) as exc:
        merge.merge(git, target, head, "m", ME)
    assert exc.value.paths == ["a"]


def test_a_head_the_target_already_contains_has_nothing_to_merge(git: GitRepo) -> None:
    base = _commit(git, None, {"a": b"1"})
    target = _commit(git, base, {"a": b"2"})
    with pytest.raises(ValueError, match="nothing to merge"):
        merge.merge(git, target, base, "m", ME)


def test_unrelated_histories_never_merge(git: GitRepo) -> None:
    one = _commit(git, None, {"a": b"1"})
    other = _commit(git, None, {"b": b"2"})
    with pytest.raises(merge.MergeConflict):
        merge.merge(git, one, other, "m", ME)


def test_the_patch_shows_only_what_the_head_brings(git: GitRepo) -> None:
    base = _commit(git, None, {"a": b"1\n"})
    target = _commit(git, base, {"t.txt": b"target only\n"})
    head = _commit(git, base, {"a": b"2\n"})
    text = merge.patch(git, target, head)
    assert "-1\n+2" in text and "t.txt" not in text
