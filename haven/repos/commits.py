"""Turning a list of file operations into one commit on a branch: atomic, validated, serialised.

The branch moves only after every object of the new commit is written, with a compare-and-swap
against the head we built on; so a failure at any point leaves the branch where it was.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from haven import search
from haven.auth.permissions import Actor, Permission
from haven.errors import BadRequest, Conflict, EntryNotFound, PreconditionFailed, RevisionNotFound
from haven.git.lfs import Pointer, parse_gitattributes, parse_pointer
from haven.git.store import Change, ChangeError, Delete, DeleteFolder, GitRepo, Put, RefUpdateConflict
from haven.hub import Hub
from haven.jobs.queue import wake as wake_workers
from haven.metadata import tasks as metadata_tasks
from haven.mirror.guard import refuse_writes as refuse_mirror_writes
from haven.names import check_path, check_revision
from haven.repos import lfs
from haven.repos.card import CardError, derive, parse_card
from haven.repos.library import scan
from haven.repos.locks import repo_lock
from haven.repos.models import LfsObject, Repo
from haven.repos.service import RepoRef, author_of, find_repo, touch
from haven.repos.tagsig import store_tags
from haven.scanning import tasks as scan_tasks
from haven.viewer import tasks as viewer_tasks
from haven.webhooks import events as hooks

SHA256 = re.compile(r"^[0-9a-f]{64}$")
COMMIT_ATTEMPTS = 5
PARENT = re.compile(r"^[0-9a-fA-F]{5,40}$")


@dataclass(frozen=True)
class AddFile:
    path: str
    content: bytes


@dataclass(frozen=True)
class AddLfsFile:
    path: str
    oid: str
    size: int | None


@dataclass(frozen=True)
class RemoveFile:
    path: str


@dataclass(frozen=True)
class RemoveFolder:
    path: str


Operation = AddFile | AddLfsFile | RemoveFile | RemoveFolder


@dataclass
class CommitRequest:
    summary: str
    description: str = ""
    parent_commit: str | None = None
    operations: list[Operation] = field(default_factory=list)

    @property
    def message(self) -> str:
        summary = self.summary.strip() or "Upload files"
        return f"{summary}\n\n{self.description.strip()}\n" if self.description.strip() else f"{summary}\n"


def branch_ref(git: GitRepo, revision: str) -> str:
    """The ref a commit to `revision` moves: an existing branch or PR ref, never a tag or commit id."""
    check_revision(revision)
    name = revision if revision.startswith("refs/") else f"refs/heads/{revision}"
    if not (name.startswith(("refs/heads/", "refs/pr/"))):
        raise BadRequest(f"Invalid rev id: {revision} (commits go to a branch)")
    if git.ref(name) is None:
        raise RevisionNotFound(f"Invalid rev id: {revision}")
    return name


def prepare(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, req: CommitRequest, perm: Permission = Permission.WRITE
) -> tuple[RepoRef, dict[str, int]]:
    """Checks that need no lock: the repository and `perm` on it, the paths, the parent, the LFS objects."""
    with hub.db.read() as session:
        ref = find_repo(hub, session, actor, repo_type, full_id, perm)
        refuse_mirror_writes(session, ref.row)
    linked = lfs.linked(hub, ref.row.id, [op.oid for op in req.operations if isinstance(op, AddLfsFile)])
    for op in req.operations:
        check_path(op.path.rstrip("/") if isinstance(op, RemoveFolder) else op.path)
    if req.parent_commit is not None and not PARENT.match(req.parent_commit):
        raise BadRequest(f"Invalid parent commit: {req.parent_commit}")
    return ref, linked


def build_commit(hub: Hub, actor: Actor, ref: RepoRef, head: str, req: CommitRequest, linked: dict[str, int]) -> str:
    """Write the objects of `req` applied on `head` (no ref moves) and record its LFS objects in the
    database, so that the caller may move the ref at once (see lfs.record); the commit id."""
    changes, new_objects = _materialize(hub, ref.git, ref, head, req.operations, linked)
    try:
        tree = ref.git.build_tree(head, changes)
    except ChangeError as e:
        raise (EntryNotFound if e.missing else BadRequest)(str(e)) from None
    commit = ref.git.write_commit(tree, [head], req.message, author_of(actor))
    fresh = {oid: size for oid, size in new_objects.items() if linked.get(oid) != size}
    if fresh:
        with hub.db.write() as session:
            lfs.record(session, ref.row.id, fresh)
    return commit


def create_commit(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, revision: str, req: CommitRequest
) -> tuple[str, RepoRef]:
    """Commit `req` on top of `revision`; returns the new commit id."""
    ref, linked = prepare(hub, actor, repo_type, full_id, req)
    git = ref.git
    with repo_lock(hub.db, ref):
        name = branch_ref(git, revision)
        # git pushes move branches without this lock (git's own compare-and-swap guards them): when one
        # lands between reading the head and moving it, the commit is built again on the new head.
        for attempt in range(COMMIT_ATTEMPTS):
            head = git.ref(name)
            if head is None:
                raise RevisionNotFound(f"Invalid rev id: {revision}")
            if req.parent_commit is not None and not head.startswith(req.parent_commit.lower()):
                raise PreconditionFailed(
                    "The branch was updated since you opened this page. Please refresh and try again "
                    f"(parent commit {req.parent_commit} is not the head {head} of {revision})."
                )
            commit = build_commit(hub, actor, ref, head, req, linked)
            try:
                git.update_ref(name, commit, head)
                break
            except RefUpdateConflict:
                if attempt == COMMIT_ATTEMPTS - 1:
                    raise Conflict(f"{revision} was updated by someone else during this commit; retry") from None
        # Still under the lock: metadata updates of one repository apply in commit order, so the recorded
        # head is never overtaken by an older commit's.
        after_commit(hub, ref, name, commit)
    hooks.emit_refs(hub, ref.row.id, [(name, head, commit)])
    return commit, ref


def _materialize(
    hub: Hub, git: GitRepo, ref: RepoRef, head: str, ops: list[Operation], linked: dict[str, int]
) -> tuple[list[Change], dict[str, int]]:
    """Write the blobs the operations add; returns tree changes and the LFS objects they bring."""
    rules = parse_gitattributes(_gitattributes(git, head, ops))
    threshold = hub.settings.lfs_threshold
    changes: list[Change] = []
    new_objects: dict[str, int] = {}
    for op in ops:
        if isinstance(op, AddFile):
            if len(op.content) >= threshold or (rules.matches(op.path) and op.content):
                oid = hub.blobs.put(op.content)
                new_objects[oid] = len(op.content)
                changes.append(Put(op.path, git.write_blob(Pointer(oid, len(op.content)).encode())))
            else:
                if parse_pointer(op.content) is not None:
                    raise BadRequest(f"{op.path}: upload LFS objects through the LFS API, not as pointer files")
                changes.append(Put(op.path, git.write_blob(op.content)))
        elif isinstance(op, AddLfsFile):
            size = _check_lfs(hub, op, linked)
            new_objects[op.oid] = size
            changes.append(Put(op.path, git.write_blob(Pointer(op.oid, size).encode())))
        elif isinstance(op, RemoveFile):
            changes.append(Delete(op.path))
        else:
            changes.append(DeleteFolder(op.path))
    return changes, new_objects


def _check_lfs(hub: Hub, op: AddLfsFile, linked: dict[str, int]) -> int:
    if not SHA256.match(op.oid):
        raise BadRequest(f"{op.path}: lfsFile oid must be a sha256 hex digest")
    stored = linked.get(op.oid)
    if stored is None:
        raise BadRequest(f"{op.path}: LFS object {op.oid} was not uploaded to this repository")
    if op.size is not None and op.size != stored:
        raise BadRequest(f"{op.path}: LFS object {op.oid} has size {stored}, not {op.size}")
    return stored


def _gitattributes(git: GitRepo, head: str, ops: list[Operation]) -> str:
    for op in reversed(ops):
        if op.path == ".gitattributes":
            if isinstance(op, AddFile):
                return op.content.decode("utf-8", "replace")
            return ""
    entry = git.entry(head, ".gitattributes")
    if entry is None or entry.type != "file" or entry.pointer is not None:
        return ""
    return git.read_blob(entry.oid).decode("utf-8", "replace")


def after_commit(hub: Hub, ref: RepoRef, ref_name: str, commit: str) -> None:
    """Record what a ref move changed in the metadata: head, card data (main only), used storage. Its LFS
    objects were recorded before the ref moved, by whoever moved it (see lfs.record)."""
    with hub.db.write() as session:
        lfs_total = session.scalar(
            select(func.coalesce(func.sum(LfsObject.size), 0)).where(LfsObject.repo_id == ref.row.id)
        )
        session.execute(
            update(Repo).where(Repo.id == ref.row.id).values(used_storage=int(lfs_total) + ref.git.disk_usage())
        )
        if ref_name == "refs/heads/main":
            touch(session, ref.row.id, commit)
            refresh_card(session, ref.git, ref.row.id, commit)
            metadata_tasks.enqueue_for(session, ref.row.id)
            scan_tasks.enqueue_for(session, ref.row.id)
            if ref.row.type == "dataset":
                viewer_tasks.enqueue_for(session, ref.row.id)
        else:
            touch(session, ref.row.id, None)
    if ref_name == "refs/heads/main":
        wake_workers()


def refresh_card(session: Session, git: GitRepo, repo_id: int, commit: str) -> None:
    """Store the card of `commit` (the new head of main): its metadata (or why it did not parse) and the
    tags, library and task it and the files imply. Cheap enough for the commit path: the README, a
    listing of at most library.MAX_SCAN paths and a few small root JSON files."""
    row = session.get(Repo, repo_id)
    if row is None:
        return
    entry = git.entry(commit, "README.md")
    card: dict | None = None
    error = None
    if entry is not None and entry.type == "file" and entry.pointer is None:
        try:
            card = parse_card(git.read_blob(entry.oid).decode("utf-8", "replace"))
        except CardError as e:
            error = str(e)
    tags, library, pipeline = derive(card or {}, row.type, scan(git, commit))
    row.card_data = card or None
    row.card_error = error
    row.library_name, row.pipeline_tag = library, pipeline
    if set(tags) != set(row.tags or []):
        store_tags(session, row, tags)
    search.index_card(session, repo_id, row.full_id, search.readme_text(git, entry), tags)
