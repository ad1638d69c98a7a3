"""Turning repository events into deliveries: find the webhooks that watch the repository (or its owner),
keep those whose owner may read it (a private repository's events never reach anyone else), build the
Hub's payload (version 3) and queue one delivery job each, in the caller's transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import and_, delete, event, or_, select
from sqlalchemy.orm import Session

from haven.auth.models import Account
from haven.auth.permissions import Permission, can
from haven.auth.service import load_actor
from haven.config import Settings
from haven.discussions.models import Discussion, DiscussionEvent
from haven.hub import Hub
from haven.jobs.queue import wake
from haven.repos.models import Repo
from haven.webhooks import tasks
from haven.webhooks.models import DELIVERED, FAILED, SKIPPED, Webhook, WebhookDelivery, WebhookWatch

REPO, CONTENT, CONFIG = "repo", "repo.content", "repo.config"
DISCUSSION, COMMENT = "discussion", "discussion.comment"
PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}
KEEP_DELIVERIES = 1000  # per webhook, in the delivery log
FINISHED = (DELIVERED, FAILED, SKIPPED)


def base_url(settings: Settings) -> str:
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def repo_json(settings: Settings, repo: Repo) -> dict[str, Any]:
    base = base_url(settings)
    return {
        "type": repo.type,
        "name": repo.full_id,
        "id": f"{repo.id:024x}",
        "private": repo.private,
        "url": {"web": f"{base}/{PREFIX[repo.type]}{repo.full_id}", "api": f"{base}/api/{repo.type}s/{repo.full_id}"},
        "owner": {"id": f"{repo.owner_id:024x}"},
        "headSha": repo.head_sha,
        "tags": list(repo.tags or []),
    }


def _watchers(session: Session, repo: Repo, names: list[str], domain: str) -> list[Webhook]:
    namespaces = sorted({n.split("/", 1)[0] for n in names})
    matches = or_(
        and_(WebhookWatch.type == repo.type, WebhookWatch.name.in_(names)),
        and_(WebhookWatch.type.in_(("user", "org")), WebhookWatch.name.in_(namespaces)),
    )
    ids = select(WebhookWatch.webhook_id).where(matches)
    hooks = session.scalars(
        select(Webhook).where(Webhook.id.in_(ids), Webhook.disabled.is_(False)).order_by(Webhook.id)
    )
    return [h for h in hooks if domain in (h.domains or [])]


def _may_read(session: Session, hook: Webhook, repo: Repo) -> bool:
    if not repo.private:
        return True
    owner = session.get(Account, hook.owner_id)
    if owner is None:
        return False
    actor = load_actor(session, owner, "read", None)
    return can(actor, Permission.READ, repo)


def still_readable(session: Session, hook: Webhook, payload: dict[str, Any]) -> bool:
    """Whether the webhook's owner may still read the payload's repository, checked again before every
    attempt: a watcher who lost access since the event (removed from the organisation, the repository made
    private) hears no more of it, not even a retry. A deleted repository's last events still go out."""
    try:
        repo = session.get(Repo, int(payload["repo"]["id"], 16))
    except (KeyError, TypeError, ValueError):
        return True
    return repo is None or _may_read(session, hook, repo)


def emit_repo(
    session: Session,
    settings: Settings,
    repo: Repo,
    action: str,
    scope: str,
    *,
    also_named: str | None = None,
    **extra: Any,
) -> int:
    """Queue a delivery of this event to every webhook that may see it; returns how many. The scope's first
    part is the webhook domain (`repo`, `repo.content` -> repo; `discussion`, `discussion.comment` ->
    discussion). `also_named`: the other name of a moved repository, whose watchers hear of it too; `extra`: the payload's other
    keys (updatedRefs, updatedConfig, movedTo, discussion, comment)."""
    names = [repo.full_id] + ([also_named] if also_named else [])
    queued = 0
    for hook in _watchers(session, repo, names, scope.split(".", 1)[0]):
        if not _may_read(session, hook, repo):
            continue
        payload = {
            "event": {"action": action, "scope": scope},
            "repo": repo_json(settings, repo),
            "webhook": {"id": hook.public_id, "version": 3},
            **{k: v for k, v in extra.items() if v is not None},
        }
        delivery = WebhookDelivery(webhook_id=hook.id, event=f"{scope}:{action}", payload=payload)
        session.add(delivery)
        session.flush()
        tasks.enqueue(session, delivery.id, attempt=1)
        prune(session, hook.id)
        queued += 1
    return queued


def prune(session: Session, webhook_id: int) -> None:
    """Keep the log bounded: finished deliveries beyond the newest KEEP_DELIVERIES are dropped."""
    cutoff = session.scalar(
        select(WebhookDelivery.id)
        .where(WebhookDelivery.webhook_id == webhook_id)
        .order_by(WebhookDelivery.id.desc())
        .offset(KEEP_DELIVERIES)
        .limit(1)
    )
    if cutoff is not None:
        session.execute(
            delete(WebhookDelivery).where(
                WebhookDelivery.webhook_id == webhook_id,
                WebhookDelivery.id <= cutoff,
                WebhookDelivery.status.in_(FINISHED),
            )
        )


def refs_json(updates: list[tuple[str, str | None, str | None]]) -> list[dict[str, Any]]:
    return [{"ref": name, "oldSha": old, "newSha": new} for name, old, new in updates]


def emit_refs(hub: Hub, repo_id: int, updates: list[tuple[str, str | None, str | None]]) -> None:
    """A commit or push moved refs: one `repo.content` update (after the move, in a transaction of its own;
    a crash between the two loses the notification, never the commit)."""
    from haven.git.store import ZERO

    changes = [(name, None if old == ZERO else old, None if new == ZERO else new) for name, old, new in updates]
    if not changes:
        return
    with hub.db.write() as session:
        repo = session.get(Repo, repo_id)
        if repo is None:
            return
        queued = emit_repo(session, hub.settings, repo, "update", CONTENT, updatedRefs=refs_json(changes))
    if queued:
        wake()


def _object_id(row_id: int | None) -> dict[str, str]:
    """The Hub's 24-hex ObjectId form of one of our integer ids (0 for a deleted author)."""
    return {"id": f"{row_id or 0:024x}"}


def discussion_json(settings: Settings, repo: Repo, d: Discussion) -> dict[str, Any]:
    base = base_url(settings)
    page = f"{base}/{PREFIX[repo.type]}{repo.full_id}/discussions/{d.num}"
    out: dict[str, Any] = {
        **_object_id(d.id),
        "num": d.num,
        "author": _object_id(d.author_id),
        "url": {"web": page, "api": f"{base}/api/{repo.type}s/{repo.full_id}/discussions/{d.num}"},
        "title": d.title,
        "isPullRequest": d.is_pull_request,
        "status": d.status,
    }
    if d.is_pull_request:
        out["changes"] = {"base": d.target_branch or "refs/heads/main"}
        if d.merge_commit:
            out["changes"]["mergeCommitId"] = d.merge_commit
    return out


def comment_json(settings: Settings, repo: Repo, d: Discussion, e: DiscussionEvent) -> dict[str, Any]:
    page = discussion_json(settings, repo, d)["url"]["web"]
    return {
        "id": e.event_id,
        "author": _object_id(e.author_id),
        "hidden": e.hidden,
        "content": None if e.hidden else e.content,
        "url": {"web": f"{page}#{e.event_id}"},
    }


def emit_discussion(
    session: Session,
    settings: Settings,
    d: Discussion,
    action: str,
    scope: str = DISCUSSION,
    comment: DiscussionEvent | None = None,
) -> int:
    """A thread was opened or changed (scope `discussion`; an opening carries its first comment), or one of
    its comments was posted or changed (`discussion.comment`), in the caller's transaction; the job workers
    are woken once it commits."""
    repo = session.get(Repo, d.repo_id)
    if repo is None:
        return 0
    extra = {"discussion": discussion_json(settings, repo, d)}
    if comment is not None:
        extra["comment"] = comment_json(settings, repo, d, comment)
    queued = emit_repo(session, settings, repo, action, scope, **extra)
    if queued:
        event.listen(session, "after_commit", lambda _: wake(), once=True)
    return queued
