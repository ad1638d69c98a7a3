"""Branches, tags and history rewrites; each a compare-and-swap under the repository lock."""

from __future__ import annotations

from haven.auth.permissions import Actor
from haven.errors import BadRequest, Conflict, RevisionNotFound
from haven.git.store import RefUpdateConflict
from haven.hub import Hub
from haven.names import check_branch_name, check_revision
from haven.repos.commits import after_commit
from haven.repos.locks import repo_lock
from haven.repos.service import RepoRef, author_of
from haven.webhooks import events as hooks

DEFAULT_BRANCH = "main"


def _resolve(ref: RepoRef, rev: str) -> str:
    check_revision(rev)
    commit = ref.git.resolve(rev)
    if commit is None:
        raise RevisionNotFound(f"Invalid rev id: {rev}")
    return commit


def create_branch(hub: Hub, ref: RepoRef, branch: str, start: str | None) -> None:
    check_branch_name(branch)
    name = f"refs/heads/{branch}"
    with repo_lock(hub.db, ref):
        target = _resolve(ref, start or DEFAULT_BRANCH)
        if ref.git.ref(name) is not None:
            raise Conflict(f"Reference {name} already exists")
        try:
            ref.git.update_ref(name, target, None)
        except RefUpdateConflict as e:
            raise Conflict(f"Cannot create {name}: {e}") from None
    hooks.emit_refs(hub, ref.row.id, [(name, None, target)])


def delete_branch(hub: Hub, ref: RepoRef, branch: str) -> None:
    check_revision(branch)
    if branch == DEFAULT_BRANCH:
        raise BadRequest(f"Cannot delete refs/heads/{DEFAULT_BRANCH}")
    _delete_ref(hub, ref, f"refs/heads/{branch}", branch)


def create_tag(hub: Hub, ref: RepoRef, tag: str, revision: str, message: str | None) -> None:
    check_branch_name(tag)
    name = f"refs/tags/{tag}"
    with repo_lock(hub.db, ref):
        target = _resolve(ref, revision)
        if ref.git.ref(name) is not None:
            raise Conflict(f"Reference {name} already exists")
        try:
            ref.git.update_ref(name, target, None)
        except RefUpdateConflict:
            raise Conflict(f"Reference {name} already exists") from None
    hooks.emit_refs(hub, ref.row.id, [(name, None, target)])


def delete_tag(hub: Hub, ref: RepoRef, tag: str) -> None:
    check_revision(tag)
    _delete_ref(hub, ref, f"refs/tags/{tag}", tag)


def _delete_ref(hub: Hub, ref: RepoRef, name: str, shown: str) -> None:
    with repo_lock(hub.db, ref):
        current = ref.git.ref(name)
        if current is None:
            raise RevisionNotFound(f"Invalid rev id: {shown}")
        try:
            ref.git.delete_ref(name, current)
        except RefUpdateConflict:
            raise Conflict(f"{shown} moved while it was being deleted; retry") from None
    hooks.emit_refs(hub, ref.row.id, [(name, current, None)])


def super_squash(hub: Hub, actor: Actor, ref: RepoRef, branch: str, message: str | None) -> str:
    """Replace the branch's history with a single commit holding its current tree."""
    check_revision(branch)
    name = branch if branch.startswith("refs/") else f"refs/heads/{branch}"
    with repo_lock(hub.db, ref):
        head = ref.git.ref(name)
        if head is None:
            raise RevisionNotFound(f"Invalid rev id: {branch}")
        tree = ref.git.tree_of(head)
        commit = ref.git.write_commit(tree, [], (message or "Super-squash branch").strip() + "\n", author_of(actor))
        try:
            ref.git.update_ref(name, commit, head)
        except RefUpdateConflict:
            raise Conflict(f"{branch} moved during the squash; retry") from None
        after_commit(hub, ref, name, commit)
    hooks.emit_refs(hub, ref.row.id, [(name, head, commit)])
    return commit
