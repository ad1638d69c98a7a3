"""Pull requests: a discussion whose branch `refs/pr/{num}` starts at its target branch and collects
commits, until a writer merges it into the target (fast-forward or merge commit) or someone closes it.

Lock order everywhere: the repository lock, then the database write transaction; the ref moves inside
that transaction, so a failure on either side leaves both as they were.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from haven.auth.permissions import Actor, Permission
from haven.discussions import service
from haven.discussions.models import DRAFT, MERGED, OPEN, Discussion
from haven.discussions.service import add_event, get_row, new_discussion, numbered, require_participant
from haven.errors import BadRequest, Conflict, Forbidden, PreconditionFailed, RevisionNotFound
from haven.git import merge as git_merge
from haven.git.store import RefUpdateConflict
from haven.hub import Hub
from haven.repos.commits import CommitRequest, after_commit, branch_ref, build_commit, prepare
from haven.repos.locks import repo_lock
from haven.repos.service import RepoRef, author_of, find_repo
from haven.webhooks import events as hooks


def pr_ref(num: int) -> str:
    return f"refs/pr/{num}"


def _set_ref(ref: RepoRef, name: str, commit: str, old: str | None) -> None:
    try:
        ref.git.update_ref(name, commit, old)
    except RefUpdateConflict:
        raise Conflict(f"{name} was updated by someone else; retry") from None


def _open_pr(
    session: Session, ref: RepoRef, actor: Actor, title: str, description: str, target: str, start: str
) -> Discussion:
    """The thread and its branch at `start`. A branch left by a transaction that failed after creating
    it (the row rolled back) is taken over, so numbers never get stuck."""
    d = new_discussion(session, ref, actor, title, description, pr=True)
    d.target_branch = target
    name = pr_ref(d.num)
    _set_ref(ref, name, start, ref.git.ref(name))
    return d


def create_pull_request(hub: Hub, actor: Actor, repo_type: str, full_id: str, title: str, description: str) -> int:
    """An empty (draft) pull request against main; commits to its branch open it."""
    with hub.db.read() as session:
        ref = find_repo(hub, session, actor, repo_type, full_id, Permission.READ)
    require_participant(actor, ref)
    with repo_lock(hub.db, ref):
        target = branch_ref(ref.git, "main")
        head = ref.git.ref(target)
        assert head is not None  # branch_ref checked it exists

        def attempt() -> int:
            with hub.db.write() as session:
                d = _open_pr(session, ref, actor, title, description, target, head)
                service.announce_opening(hub, session, d)
                return d.num

        return numbered(attempt)


def commit_as_pull_request(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, revision: str, req: CommitRequest
) -> tuple[str, RepoRef, int]:
    """create_commit(create_pr=True): a new pull request against `revision` whose branch holds the commit
    (built on `parent_commit` when given). Returns the commit, the repository and the PR number."""
    ref, linked = prepare(hub, actor, repo_type, full_id, req, Permission.READ)
    require_participant(actor, ref)
    with repo_lock(hub.db, ref):
        target = branch_ref(ref.git, revision)
        if not target.startswith("refs/heads/"):
            raise BadRequest("A pull request targets a branch")
        base = ref.git.resolve(req.parent_commit) if req.parent_commit else ref.git.ref(target)
        if base is None:
            raise RevisionNotFound(f"Invalid parent commit: {req.parent_commit}")
        commit = build_commit(hub, actor, ref, base, req, linked)
        title = req.summary.strip() or "Upload files"
        description = req.description.strip() or title

        def attempt() -> int:
            with hub.db.write() as session:
                d = _open_pr(session, ref, actor, title, description, target, commit)
                d.status = OPEN
                add_event(session, d, actor, "commit", {"subject": req.message.split("\n", 1)[0], "oid": commit})
                service.announce_opening(hub, session, d)
                return d.num

        num = numbered(attempt)
        after_commit(hub, ref, pr_ref(num), commit)
    hooks.emit_refs(hub, ref.row.id, [(pr_ref(num), None, commit)])
    return commit, ref, num


def pr_number(revision: str) -> int | None:
    """N for `refs/pr/N`, None for any other revision."""
    tail = revision.removeprefix("refs/pr/")
    return int(tail) if tail != revision and tail.isdigit() and not tail.startswith("0") else None


def commit_to_pull_request(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int, req: CommitRequest
) -> tuple[str, RepoRef]:
    """A commit on an open pull request's branch (anyone who may take part; see require_participant)."""
    ref, linked = prepare(hub, actor, repo_type, full_id, req, Permission.READ)
    require_participant(actor, ref)
    name = pr_ref(num)
    with repo_lock(hub.db, ref):
        head = ref.git.ref(name)
        if head is None:
            raise RevisionNotFound(f"Invalid rev id: {name}")
        if req.parent_commit is not None and not head.startswith(req.parent_commit.lower()):
            raise PreconditionFailed(f"parent commit {req.parent_commit} is not the head {head} of {name}")
        commit = build_commit(hub, actor, ref, head, req, linked)
        with hub.db.write() as session:
            d = get_row(session, ref.row.id, num, lock=True)
            if not d.is_pull_request or d.status not in (OPEN, DRAFT):
                raise Forbidden(f"Pull request #{num} is {d.status}: it accepts no more commits")
            opened = d.status == DRAFT
            d.status = OPEN
            add_event(session, d, actor, "commit", {"subject": req.message.split("\n", 1)[0], "oid": commit})
            if opened:
                hooks.emit_discussion(session, hub.settings, d, "update")
            _set_ref(ref, name, commit, head)
        after_commit(hub, ref, name, commit)
    hooks.emit_refs(hub, ref.row.id, [(name, head, commit)])
    return commit, ref


def merge_pull_request(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int, comment: str | None = None
) -> str:
    """Merge an open pull request into its target branch (writers); returns the target's new head.
    Conflicting paths are a 409 and nothing changes."""
    with hub.db.read() as session:
        ref = find_repo(hub, session, actor, repo_type, full_id, Permission.WRITE)
    require_participant(actor, ref)
    with repo_lock(hub.db, ref):
        with hub.db.read() as session:
            d = get_row(session, ref.row.id, num)
            title, target = d.title, d.target_branch or "refs/heads/main"
            _check_mergeable(d)
        base, head = ref.git.ref(target), ref.git.ref(pr_ref(num))
        if base is None or head is None:
            raise RevisionNotFound(f"The target branch {target} of pull request #{num} no longer exists")
        message = f"Merge pull request #{num}: {title}\n"
        try:
            new = git_merge.merge(ref.git, base, head, message, author_of(actor))
        except git_merge.MergeConflict as e:
            raise Conflict(f"Pull request #{num} conflicts with {target} in: {', '.join(e.paths)}") from None
        except ValueError as e:
            raise BadRequest(f"Pull request #{num} has nothing to merge ({e})") from None
        with hub.db.write() as session:
            d = get_row(session, ref.row.id, num, lock=True)
            _check_mergeable(d)
            if comment and comment.strip():
                service.comment_with(hub, session, d, actor, comment)
            d.status, d.merge_commit = MERGED, new
            add_event(session, d, actor, "status-change", {"status": MERGED})
            hooks.emit_discussion(session, hub.settings, d, "update")
            _set_ref(ref, target, new, base)
        after_commit(hub, ref, target, new)
    hooks.emit_refs(hub, ref.row.id, [(target, base, new)])
    return new


def _check_mergeable(d: Discussion) -> None:
    if not d.is_pull_request:
        raise BadRequest(f"#{d.num} is a discussion, not a pull request")
    if d.status != OPEN:
        raise BadRequest(f"Pull request #{d.num} is {d.status}: only open pull requests can be merged")


def pr_state(ref: RepoRef, num: int, target: str | None, with_diff: bool) -> tuple[list[str], str | None]:
    """Conflicting files of a pull request with its target, and its diff (when asked)."""
    base, head = ref.git.ref(target or "refs/heads/main"), ref.git.ref(pr_ref(num))
    if base is None or head is None:
        return [], None
    files = git_merge.conflicts(ref.git, base, head)
    return files, git_merge.patch(ref.git, base, head) if with_diff else None


# --- git pushes to refs/pr/N (writers only: receive-pack needs write access) -----------------------------


def push_problem(hub: Hub, repo_id: int, name: str, new: str) -> str | None:
    """Why a push may not move `name` (a refs/pr/* ref), or None: only open pull requests take pushes,
    and their branches are never deleted."""
    num = pr_number(name)
    if num is None:
        return "pull request refs (refs/pr/*) are named refs/pr/<number>"
    if set(new) == {"0"}:
        return "pull request refs (refs/pr/*) cannot be deleted"
    with hub.db.read() as session:
        d = session.scalar(select(Discussion).where(Discussion.repo_id == repo_id, Discussion.num == num))
    if d is None or not d.is_pull_request:
        return f"there is no pull request #{num}: refs/pr/* take pushes to existing pull requests only"
    if d.status not in (OPEN, DRAFT):
        return f"pull request #{num} is {d.status}: it accepts no more commits"
    return None


def record_push(hub: Hub, ref: RepoRef, actor: Actor, name: str, old: str | None, new: str) -> None:
    """The commit events of a push to refs/pr/N (one per new commit), and a draft becomes open."""
    num = pr_number(name)
    if num is None:
        return
    commits = git_merge.between(ref.git, old, new)
    with hub.db.write() as session:
        d = session.scalar(select(Discussion).where(Discussion.repo_id == ref.row.id, Discussion.num == num))
        if d is None:
            return
        if d.status == DRAFT:
            d.status = OPEN
            hooks.emit_discussion(session, hub.settings, d, "update")
        for c in commits:
            add_event(session, d, actor, "commit", {"subject": c.title, "oid": c.id})
