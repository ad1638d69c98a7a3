"""Discussion threads: list, read, open, comment, edit, hide, rename, close and reopen.

Everything starts from the repository as the caller sees it (find_repo), so a private repository's
threads are as invisible as the repository. Writing needs an account with a write-capable token and
read access; moderation (status, title) the thread's author or a repository writer; hiding a comment
a writer. Pull-request specifics (branches, commits, merge) live in haven.discussions.pulls.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven.auth.models import Account
from haven.auth.permissions import Actor, Permission, can
from haven.db import utcnow
from haven.discussions.models import CLOSED, DRAFT, MERGED, OPEN, Discussion, DiscussionEvent
from haven.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from haven.hub import Hub
from haven.repos.models import Repo
from haven.repos.service import RepoRef, find_repo, refusal
from haven.webhooks import events as hooks

T = TypeVar("T")
PAGE_SIZE = 50
MAX_TITLE = 200
MAX_COMMENT = 65_000
KINDS = ("all", "discussion", "pull_request")
STATUS_FILTERS = {"all": None, "open": (OPEN, DRAFT), "closed": (CLOSED, MERGED)}


@dataclass(frozen=True)
class EventView:
    id: str
    type: str
    created_at: datetime
    updated_at: datetime
    author: str | None
    content: str | None
    edited: bool
    hidden: bool
    data: dict[str, Any]


@dataclass(frozen=True)
class DiscussionView:
    num: int
    title: str
    status: str
    is_pull_request: bool
    created_at: datetime
    author: str | None
    repo_type: str
    repo_id: str
    target_branch: str | None = None
    merge_commit: str | None = None
    events: list[EventView] = field(default_factory=list)


# --- shared helpers ---------------------------------------------------------------------------------------


def open_repo(hub: Hub, session: Session, actor: Actor, repo_type: str, full_id: str) -> RepoRef:
    return find_repo(hub, session, actor, repo_type, full_id, Permission.READ)


def require_participant(actor: Actor, ref: RepoRef) -> None:
    """Taking part (opening, commenting, pushing to a pull request) needs an account, a role of at least
    contributor on a private repository, and a credential allowed to (not a read token; a fine-grained
    one with discussion.write or repo.write there)."""
    if actor.anonymous:
        raise Unauthorized("You must be authenticated to take part in discussions")
    if not can(actor, Permission.CONTRIBUTE, ref.row):
        raise Forbidden(refusal(actor, Permission.CONTRIBUTE, ref.row))


def is_writer(actor: Actor, ref: RepoRef) -> bool:
    return can(actor, Permission.WRITE, ref.row)


def may_moderate(actor: Actor, ref: RepoRef, d: Discussion) -> bool:
    """Renaming, closing and reopening: the thread's author or a repository writer."""
    return is_writer(actor, ref) or (actor.user_id is not None and d.author_id == actor.user_id)


def get_row(session: Session, repo_id: int, num: int, lock: bool = False) -> Discussion:
    """The thread; `lock` holds its row until the transaction ends (PostgreSQL), so status changes,
    merges and commits that check its status cannot interleave."""
    query = select(Discussion).where(Discussion.repo_id == repo_id, Discussion.num == num)
    d = session.scalar(query.with_for_update() if lock else query)
    if d is None:
        raise NotFound(f"Discussion #{num} not found")
    return d


def check_title(title: str) -> str:
    title = title.strip()
    if not 1 <= len(title) <= MAX_TITLE:
        raise BadRequest(f"The title must be 1 to {MAX_TITLE} characters")
    return title


def check_text(text: str, what: str = "comment") -> str:
    if not text.strip():
        raise BadRequest(f"The {what} is empty")
    if len(text) > MAX_COMMENT:
        raise BadRequest(f"The {what} is longer than {MAX_COMMENT} characters")
    return text


def add_event(
    session: Session, d: Discussion, actor: Actor, kind: str, data: dict[str, Any], content: str | None = None
) -> DiscussionEvent:
    now = utcnow()
    event = DiscussionEvent(
        discussion_id=d.id,
        event_id=secrets.token_hex(12),
        type=kind,
        author_id=actor.user_id,
        created_at=now,
        updated_at=now,
        content=content,
        edited=False,
        hidden=False,
        data=data,
    )
    session.add(event)
    d.updated_at = now
    session.flush()
    return event


def new_discussion(session: Session, ref: RepoRef, actor: Actor, title: str, description: str, pr: bool) -> Discussion:
    """A thread with the next number of the repository and its opening comment. The number is max()+1
    while holding the repository's row lock (PostgreSQL; SQLite write transactions are serial anyway), so
    concurrent openings queue; the unique constraint and `numbered` are the backstop."""
    session.execute(select(Repo.id).where(Repo.id == ref.row.id).with_for_update())
    last = session.scalar(select(func.max(Discussion.num)).where(Discussion.repo_id == ref.row.id))
    d = Discussion(
        repo_id=ref.row.id,
        num=(last or 0) + 1,
        title=check_title(title),
        author_id=actor.user_id,
        is_pull_request=pr,
        status=DRAFT if pr else OPEN,
        target_branch="refs/heads/main" if pr else None,
        created_at=utcnow(),
    )
    session.add(d)
    session.flush()
    add_event(session, d, actor, "comment", {"history": []}, content=check_text(description, "description"))
    return d


def announce_opening(hub: Hub, session: Session, d: Discussion) -> None:
    """The webhook event of a new thread (or pull request), carrying its opening comment."""
    first = session.scalar(
        select(DiscussionEvent).where(DiscussionEvent.discussion_id == d.id).order_by(DiscussionEvent.id).limit(1)
    )
    hooks.emit_discussion(session, hub.settings, d, "create", comment=first)


def numbered(attempt: Callable[[], T], tries: int = 5) -> T:
    """Run a transaction that numbers a new thread, again when a concurrent one took the same number."""
    for _ in range(tries):
        try:
            return attempt()
        except IntegrityError:
            continue
    raise Conflict("Too many discussions were opened at once; retry")


def names(session: Session, ids: set[int | None]) -> dict[int, str]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(session.execute(select(Account.id, Account.name).where(Account.id.in_(wanted))).tuples().all())


def event_view(e: DiscussionEvent, who: dict[int, str]) -> EventView:
    author = who.get(e.author_id) if e.author_id is not None else None
    return EventView(e.event_id, e.type, e.created_at, e.updated_at, author, e.content, e.edited, e.hidden, e.data)


def discussion_view(
    d: Discussion, ref: RepoRef, who: dict[int, str], events: list[EventView] | None = None
) -> DiscussionView:
    return DiscussionView(
        num=d.num,
        title=d.title,
        status=d.status,
        is_pull_request=d.is_pull_request,
        created_at=d.created_at,
        author=who.get(d.author_id) if d.author_id is not None else None,
        repo_type=ref.type,
        repo_id=ref.full_id,
        target_branch=d.target_branch,
        merge_commit=d.merge_commit,
        events=events or [],
    )


# --- reading ----------------------------------------------------------------------------------------------


def list_discussions(
    hub: Hub,
    actor: Actor,
    repo_type: str,
    full_id: str,
    *,
    page: int = 0,
    kind: str = "all",
    status: str = "all",
    author: str | None = None,
) -> tuple[list[DiscussionView], int, int]:
    """One page of threads, newest first: (threads, total matching, offset of the page)."""
    if kind not in KINDS or status not in STATUS_FILTERS or page < 0:
        raise BadRequest("type must be all|discussion|pull_request, status all|open|closed, p >= 0")
    with hub.db.read() as session:
        ref = open_repo(hub, session, actor, repo_type, full_id)
        query = select(Discussion).where(Discussion.repo_id == ref.row.id)
        if kind != "all":
            query = query.where(Discussion.is_pull_request.is_(kind == "pull_request"))
        if STATUS_FILTERS[status] is not None:
            query = query.where(Discussion.status.in_(STATUS_FILTERS[status]))
        if author:
            query = query.join(Account, Account.id == Discussion.author_id).where(Account.name == author)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        start = page * PAGE_SIZE
        rows = session.scalars(query.order_by(Discussion.num.desc()).offset(start).limit(PAGE_SIZE)).all()
        who = names(session, {d.author_id for d in rows})
        return [discussion_view(d, ref, who) for d in rows], total, start


def get_discussion(hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int) -> tuple[DiscussionView, RepoRef]:
    """The thread with all its events, oldest first, and the repository it belongs to."""
    with hub.db.read() as session:
        ref = open_repo(hub, session, actor, repo_type, full_id)
        d = get_row(session, ref.row.id, num)
        rows = session.scalars(
            select(DiscussionEvent).where(DiscussionEvent.discussion_id == d.id).order_by(DiscussionEvent.id)
        ).all()
        who = names(session, {d.author_id} | {e.author_id for e in rows})
        return discussion_view(d, ref, who, [event_view(e, who) for e in rows]), ref


# --- writing ----------------------------------------------------------------------------------------------


def create_discussion(hub: Hub, actor: Actor, repo_type: str, full_id: str, title: str, description: str) -> int:
    """Open a discussion (not a pull request: see pulls.create_pull_request); returns its number."""

    def attempt() -> int:
        with hub.db.write() as session:
            ref = open_repo(hub, session, actor, repo_type, full_id)
            require_participant(actor, ref)
            d = new_discussion(session, ref, actor, title, description, pr=False)
            announce_opening(hub, session, d)
            return d.num

    return numbered(attempt)


def comment(hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int, text: str) -> EventView:
    check_text(text)
    with hub.db.write() as session:
        ref = open_repo(hub, session, actor, repo_type, full_id)
        require_participant(actor, ref)
        d = get_row(session, ref.row.id, num)
        event = add_event(session, d, actor, "comment", {"history": []}, content=text)
        hooks.emit_discussion(session, hub.settings, d, "create", hooks.COMMENT, event)
        return event_view(event, {actor.user_id: actor.name or ""} if actor.user_id else {})


def comment_with(hub: Hub, session: Session, d: Discussion, actor: Actor, text: str) -> DiscussionEvent:
    """The comment that comes with a status change or a merge (and its webhook event)."""
    event = add_event(session, d, actor, "comment", {"history": []}, content=check_text(text))
    hooks.emit_discussion(session, hub.settings, d, "create", hooks.COMMENT, event)
    return event


def _comment_row(session: Session, d: Discussion, event_id: str) -> DiscussionEvent:
    e = session.scalar(
        select(DiscussionEvent).where(
            DiscussionEvent.discussion_id == d.id, DiscussionEvent.event_id == event_id.lower()
        )
    )
    if e is None or e.type != "comment":
        raise NotFound(f"Comment {event_id} not found in discussion #{d.num}")
    return e


def edit_comment(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int, event_id: str, content: str
) -> EventView:
    """Replace a comment's text (its author only); the previous text is kept in its history."""
    check_text(content)
    with hub.db.write() as session:
        ref = open_repo(hub, session, actor, repo_type, full_id)
        require_participant(actor, ref)
        d = get_row(session, ref.row.id, num)
        e = _comment_row(session, d, event_id)
        if e.author_id != actor.user_id:
            raise Forbidden("Only its author can edit a comment")
        if e.hidden:
            raise BadRequest("A hidden comment cannot be edited")
        history = [*e.data.get("history", []), {"raw": e.content, "updatedAt": e.updated_at.isoformat()}]
        e.data = {**e.data, "history": history}
        e.content, e.edited, e.updated_at = content, True, utcnow()
        session.flush()
        hooks.emit_discussion(session, hub.settings, d, "update", hooks.COMMENT, e)
        return event_view(e, names(session, {e.author_id}))


def hide_comment(hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int, event_id: str) -> EventView:
    """Hide a comment for good (repository writers): its text and history are erased, not just masked."""
    with hub.db.write() as session:
        ref = open_repo(hub, session, actor, repo_type, full_id)
        require_participant(actor, ref)
        if not is_writer(actor, ref):
            raise Forbidden("Only repository writers can hide comments")
        d = get_row(session, ref.row.id, num)
        e = _comment_row(session, d, event_id)
        e.content, e.hidden, e.data = "", True, {**e.data, "history": [], "hiddenBy": actor.name}
        e.updated_at = utcnow()
        session.flush()
        hooks.emit_discussion(session, hub.settings, d, "update", hooks.COMMENT, e)
        return event_view(e, names(session, {e.author_id}))


def rename(hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int, title: str) -> EventView:
    title = check_title(title)
    with hub.db.write() as session:
        ref = open_repo(hub, session, actor, repo_type, full_id)
        require_participant(actor, ref)
        d = get_row(session, ref.row.id, num)
        if not may_moderate(actor, ref, d):
            raise Forbidden("Only the author or a repository writer can rename this discussion")
        old, d.title = d.title, title
        event = add_event(session, d, actor, "title-change", {"from": old, "to": title})
        hooks.emit_discussion(session, hub.settings, d, "update")
        return event_view(event, names(session, {actor.user_id}))


def change_status(
    hub: Hub, actor: Actor, repo_type: str, full_id: str, num: int, status: str, text: str | None = None
) -> EventView:
    """Close or reopen a thread (author or writer), with an optional comment posted first."""
    if status not in (OPEN, CLOSED):
        raise BadRequest("status must be 'open' or 'closed'")
    with hub.db.write() as session:
        ref = open_repo(hub, session, actor, repo_type, full_id)
        require_participant(actor, ref)
        d = get_row(session, ref.row.id, num, lock=True)
        if not may_moderate(actor, ref, d):
            raise Forbidden("Only the author or a repository writer can change the status of this discussion")
        if d.status == MERGED:
            raise BadRequest("A merged pull request cannot change status")
        if d.status == status or (status == OPEN and d.status == DRAFT):
            raise BadRequest(f"Discussion #{num} is already {d.status}")
        if text and text.strip():
            comment_with(hub, session, d, actor, text)
        d.status = status
        event = add_event(session, d, actor, "status-change", {"status": status})
        hooks.emit_discussion(session, hub.settings, d, "update")
        return event_view(event, names(session, {actor.user_id}))
