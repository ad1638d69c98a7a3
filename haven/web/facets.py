"""Facet values with counts for the listing pages' filters, and the home page's counts.

Facets come from the listing's own bounded tag counts (`count_tags`: the first 10,000 matches of the
current query, cached briefly; once expired answered while a thread counts again), so they narrow with
every filter and stay cheap at a million repositories.
The home page's per-type counts scan every row; once that is slow they are kept for TTL seconds per
visibility class, or until the next new repository or commit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import replace
from typing import Any

from sqlalchemy import false, func, select, true
from sqlalchemy.orm import Session

from haven.auth.permissions import Actor
from haven.mirror.guard import mirrored
from haven.repos.listing import Query, count_tags, tag_type, visible
from haven.repos.models import Repo
from haven.ttlcache import TTLCache

TOP = 12
TTL = 30.0
SLOW = 0.02  # seconds: only counts that took longer are cached
_cache: TTLCache[tuple[Any, ...], Any] = TTLCache("home-counts", TTL, 10_000)
# URL parameter -> (tag prefix, tag-value builder) for the filters that are tags.
TAG_FACETS = {"license": "license:", "dataset": "dataset:"}


def _visibility_key(actor: Actor) -> tuple[Any, ...]:
    """Actors who see the same repositories share a key."""
    if actor.is_admin and actor.scope is None:
        return ("admin",)
    return actor.visibility_key()


def _fingerprint(session: Session, repo_types: tuple[str, ...]) -> tuple[Any, ...]:
    """The newest change to repositories of these types (an index lookup each): a new repository or commit
    makes cached counts stale at once; deletions and visibility changes wait for the TTL."""
    return tuple(session.scalar(select(func.max(Repo.last_modified)).where(Repo.type == t)) for t in repo_types)


def cached(name: str, session: Session, actor: Actor, repo_types: tuple[str, ...], compute: Callable[[], Any]) -> Any:
    """`compute()`, or, if computing it was slow, its result from the last TTL seconds for the same name,
    visibility and state of the repositories."""
    key = (name, *_visibility_key(actor), *_fingerprint(session, repo_types))
    hit = _cache.get(key)
    if hit is not None:
        return hit
    start = time.perf_counter()
    value = compute()
    if time.perf_counter() - start < SLOW:
        return value  # cheap enough to stay exact
    return _cache.put(key, value)


def facet_counts(
    session: Session, actor: Actor, q: Query, reopen: Callable[[], AbstractContextManager[Session]]
) -> tuple[dict[str, list[tuple[str, int]]], bool]:
    """Facet -> its most frequent values among the query's matches; and whether the counts are exact.
    An expired count is answered while a thread counts again in a session `reopen` opens (see count_tags),
    as the API's tag counts are: the page never waits for a count."""
    counted = count_tags(session, actor, replace(q, cursor=None, limit=None), top=500, reopen=reopen)
    out: dict[str, list[tuple[str, int]]] = {key: [] for key in ("task", "library", "language", "license", "dataset")}
    kinds = {"pipeline_tag": "task", "library": "library", "language": "language"}
    kinds |= {"license": "license", "dataset": "dataset"}
    for tag, n in counted.counts:
        key = kinds.get(tag_type(tag, q.repo_type))
        if key is None or len(out[key]) >= TOP:
            continue
        value = tag.partition(":")[2] if ":" in tag else tag
        out[key].append((value, n))
    out["author"] = counted.authors[:TOP]
    return out, counted.exact


def type_counts(session: Session, actor: Actor) -> dict[str, int]:
    """How many repositories of each type the actor may see: all rows (an index-only count), less the
    private ones (a small partial index), plus the private ones the actor may see."""

    def count() -> dict[str, int]:
        totals = dict(session.execute(select(Repo.type, func.count()).group_by(Repo.type)).all())
        if actor.is_admin and actor.scope is None:
            return totals
        private = select(Repo.type, func.count()).where(Repo.private == true()).group_by(Repo.type)
        for repo_type, n in session.execute(private):
            totals[repo_type] -= n
        for repo_type, n in session.execute(private.where(visible(actor))):
            totals[repo_type] += n
        if not actor.sees_mirrors:  # public mirrors, which such callers do not see either
            hidden = select(Repo.type, func.count()).where(Repo.private == false(), mirrored()).group_by(Repo.type)
            for repo_type, n in session.execute(hidden):
                totals[repo_type] -= n
        return totals

    return cached("types", session, actor, ("model", "dataset", "space"), count)


def facet_tag(repo_type: str, key: str, value: str) -> str | None:
    """The tag a facet filter selects (None: the facet is not a tag)."""
    if key in ("task", "library", "tag"):
        return value
    if key == "language":
        return f"language:{value}" if repo_type == "dataset" else value
    if key in TAG_FACETS:
        return TAG_FACETS[key] + value
    return None
