"""Facet values with counts for the listing pages' filters.

Counts are over every repository of the type the visitor may see (not narrowed by the other filters).
Once counting gets slow (it scans every row: about 100 ms at 10,000 repositories on SQLite, where the
listing pages must render in a few) they are kept for TTL seconds per visibility class, or until the
next new repository or commit. Swap for the search package's facet counts once it offers them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from haven.auth.permissions import Actor
from haven.repos.listing import visible
from haven.repos.models import Repo, RepoTag

TOP = 12
TTL = 30.0
SLOW = 0.02  # seconds: only counts that took longer are cached
_cache: dict[tuple[Any, ...], tuple[float, Any]] = {}
_lock = threading.Lock()
# URL parameter -> (tag prefix, tag-value builder) for the filters that are tags.
TAG_FACETS = {"license": "license:", "dataset": "dataset:"}


def _visibility_key(actor: Actor) -> tuple[Any, ...]:
    """Actors who see the same repositories share a key."""
    if actor.is_admin:
        return ("admin",)
    return (actor.user_id, tuple(sorted(actor.org_roles)))


def _fingerprint(session: Session, repo_types: tuple[str, ...]) -> tuple[Any, ...]:
    """The newest change to repositories of these types (an index lookup each): a new repository or commit
    makes cached counts stale at once; deletions and visibility changes wait for the TTL."""
    return tuple(session.scalar(select(func.max(Repo.last_modified)).where(Repo.type == t)) for t in repo_types)


def cached(name: str, session: Session, actor: Actor, repo_types: tuple[str, ...], compute: Callable[[], Any]) -> Any:
    """`compute()`, or, if computing it was slow, its result from the last TTL seconds for the same name,
    visibility and state of the repositories."""
    key = (name, *_visibility_key(actor), *_fingerprint(session, repo_types))
    now = time.monotonic()
    hit = _cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    start = time.perf_counter()
    value = compute()
    if time.perf_counter() - start < SLOW:
        return value  # cheap enough to stay exact
    with _lock:
        if len(_cache) > 10_000:
            _cache.clear()
        _cache[key] = (now + TTL, value)
    return value


def facet_counts(session: Session, actor: Actor, repo_type: str) -> dict[str, list[tuple[str, int]]]:
    return cached("facets", session, actor, (repo_type,), lambda: _facet_counts(session, actor, repo_type))


def type_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many repositories of each type the actor may see."""

    def count() -> dict[str, int]:
        rows = session.execute(select(Repo.type, func.count()).where(visible(actor)).group_by(Repo.type)).all()
        return {r[0]: r[1] for r in rows}

    return cached("types", session, actor, ("model", "dataset", "space"), count)


def _facet_counts(session: Session, actor: Actor, repo_type: str) -> dict[str, list[tuple[str, int]]]:
    base = (Repo.type == repo_type, visible(actor))
    out: dict[str, list[tuple[str, int]]] = {}
    for key, column in (("task", Repo.pipeline_tag), ("library", Repo.library_name), ("author", Repo.namespace)):
        n = func.count().label("n")
        rows = session.execute(
            select(column, n).where(*base, column.is_not(None)).group_by(column).order_by(n.desc(), column).limit(TOP)
        ).all()
        out[key] = [(r[0], r[1]) for r in rows]
    prefixes = dict(TAG_FACETS)
    prefixes["language"] = "language:" if repo_type == "dataset" else ""
    for key, prefix in prefixes.items():
        n = func.count().label("n")
        stmt = select(RepoTag.tag, n).join(Repo, Repo.id == RepoTag.repo_id).where(*base)
        # Model cards list languages as bare codes: two-letter tags.
        stmt = stmt.where(RepoTag.tag.like(prefix + "%") if prefix else func.length(RepoTag.tag) == 2)
        rows = session.execute(stmt.group_by(RepoTag.tag).order_by(n.desc(), RepoTag.tag).limit(TOP)).all()
        out[key] = [(r[0][len(prefix) :], r[1]) for r in rows]
    return out


def facet_tag(repo_type: str, key: str, value: str) -> str | None:
    """The tag a facet filter selects (None: the facet is not a tag)."""
    if key in ("task", "library", "tag"):
        return value
    if key == "language":
        return f"language:{value}" if repo_type == "dataset" else value
    if key in TAG_FACETS:
        return TAG_FACETS[key] + value
    return None
