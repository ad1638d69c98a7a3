"""Listing and searching repositories, with the one visibility rule every listing must use.

A page is the first `limit` visible repositories of one type in a sort order that match the filters
(search terms, author, tags). With no filter it is an index scan in sort order. A search sorted by
downloads (the default) reads its matches in that order from the full-text index, whose documents are
keyed by rank (haven.search.rank), checking the other filters per stretch read. Other filtered pages are
planned in phases, so that the database stops early whatever the filter's selectivity:

1. walk the sort order from the cursor over at most WALK rows, checking the filters row by row. A
   broad filter (a common word, a popular tag) fills the page within a few hundred rows;
2. if the page is not full, count each filter's matches on its own index (full-text, tag or author
   index, up to SET_CAP) and start from the narrowest: a few thousand ids are sorted whole; otherwise
   the database walks the sort index further (n * rows / size entries for n results, index entries only),
   checking a tag on the entries whose tag signature (haven.repos.tagsig, last in every sort index) has the
   filter's bits, or membership in a set of the other filter's ids built once, and gives up, sorting, past
   a bound.
   Counts are kept TAG_COUNT_TTL seconds (they pick a plan, never rows): a tag counted as too rare for the
   walk of phase 1 to fill the page skips that walk.

Search terms go through haven.search, which hides the engine (SQLite FTS5 or PostgreSQL tsvector).
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, and_, exists, false, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from haven.auth.permissions import Actor
from haven.errors import BadRequest
from haven.mirror.guard import mirrored
from haven.repos.models import Repo, RepoTag
from haven.repos.tagsig import signature
from haven.repos.walks import Walks, walks_for
from haven.search import SearchIndex, index_for, query_terms
from haven.search.rank import Stretch
from haven.ttlcache import TTLCache

SORTS: dict[str, InstrumentedAttribute[Any]] = {
    "downloads": Repo.downloads,
    "likes": Repo.likes,
    "trendingScore": Repo.trending_score,
    "trending_score": Repo.trending_score,
    "lastModified": Repo.last_modified,
    "last_modified": Repo.last_modified,
    "createdAt": Repo.created_at,
    "created_at": Repo.created_at,
    "id": Repo.id,
}
DATE_SORTS = {"lastModified", "last_modified", "createdAt", "created_at"}
MAX_PAGE = 1000
MAX_FILTERS = 20
WALK = 1000  # rows of the sort order checked row by row (search terms) before a filter counts as rare
WALK_SQL = 3000  # the same when only author and tags filter (checked by the database, cheaper per row)
SET_CAP = 30_000  # filters are counted up to this, to pick the narrowest to start from
SORT_CAP = 2_000  # a filter matching at most this many repositories is sorted whole
# Relative costs per row: an index entry walked with a membership check, a row fetched by id to be sorted.
WALK_COST, SORT_COST = 1, 8
WALK_SPAN = 4.0  # a span of the membership walk is this many times the rows it should take to fill the page
MAX_SPANS = 6  # spans walked before the rest is sorted
SAMPLE_IDS = 256  # ids of the narrowest filter checked against the others, to size the first span
SAMPLED_SPAN = 1.5  # the first span's margin over a rate so measured
CHUNK = 250  # rows per round trip while walking with search terms
MEMBER_CHUNK = 4096  # rows per round trip while walking with a set of ids held in Python
RATE_MARGIN = 1.5  # a stretch sized by a rate of matches is this much longer than the rate says it needs


def visible(actor: Actor) -> ColumnElement[bool]:
    """Rows `actor` may see: public ones, plus private ones of accounts they belong to or that a resource
    group gives them (all, for admins); a fine-grained token sees only the private ones in its scope.
    Anonymous callers do not see mirrored repositories when those need a login (Actor.sees_mirrors)."""
    if actor.anonymous:
        return Repo.private == false() if actor.sees_mirrors else and_(Repo.private == false(), ~mirrored())
    private: list[ColumnElement[bool]] = []
    if actor.is_admin:
        private.append(true())
    else:
        private.append(Repo.owner_id.in_([actor.user_id, *actor.org_roles]))
        if actor.repo_roles:
            private.append(Repo.id.in_(list(actor.repo_roles)))
    seen = or_(*private)
    scope = actor.scope
    if scope is not None and not scope.reads_everywhere():
        seen = and_(seen, or_(Repo.id.in_(scope.readable_repo_ids()), Repo.owner_id.in_(scope.readable_owner_ids())))
    return or_(Repo.private == false(), seen)


@dataclass
class Query:
    """What a listing asks for. `search` strings match name words by prefix, card words whole (all words of
    all strings must match); `tags` must all be present; no `sort` means by id, or by downloads when
    searching."""

    repo_type: str
    search: list[str] = field(default_factory=list)
    author: str | None = None
    tags: list[str] = field(default_factory=list)
    sort: str | None = None
    descending: bool = True
    limit: int | None = None
    cursor: str | None = None
    gated: bool | None = None

    def terms(self) -> list[str]:
        return query_terms(" ".join(self.search))


def _encode_cursor(value: Any, repo_id: int) -> str:
    if isinstance(value, datetime):
        value = value.isoformat()
    return base64.urlsafe_b64encode(orjson.dumps([value, repo_id])).decode()


def _decode_cursor(cursor: str, sort: str) -> tuple[Any, int]:
    try:
        value, repo_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode()))
        if sort in DATE_SORTS:
            value = datetime.fromisoformat(value)
        elif not isinstance(value, int | float) or isinstance(value, bool):
            raise TypeError
        return value, int(repo_id)
    except (ValueError, TypeError):
        raise BadRequest("Invalid cursor") from None


@dataclass
class _Plan:
    column: Any  # a sort column, or (phase 2) an expression of it that no index covers
    desc: bool
    repo_type: str
    position: list[ColumnElement[bool]] = field(default_factory=list)  # type and cursor: a sort index range
    base: list[ColumnElement[bool]] = field(default_factory=list)  # visibility, gating: checks on the row
    per_row: list[ColumnElement[bool]] = field(default_factory=list)  # author and tags, correlated (phase 1)
    terms: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    author: str | None = None
    index: SearchIndex | None = None
    walks: Walks | None = None  # how the engine walks a sort index
    sig: int = 0  # the tags' signature (haven.repos.tagsig): entries of a sort index without its bits lack a tag
    ranked: bool = False  # search terms sorted by downloads: the index gives matches in that order
    cursor: tuple[Any, int] | None = None
    rows: int | None = None  # the highest repository id, once read (_rows)
    # Whether the caller wants the page's rows (list_repos), which are then read whole on the way where that
    # costs no statement of its own (_ranked, _fetch), and kept here; facets want ids only.
    load: bool = False
    loaded: dict[int, Repo] = field(default_factory=dict)
    key: Any = field(default_factory=lambda: Repo.id)  # the id column the order ends with (a walk's own: _span_walk)

    def after(self, value: Any, repo_id: int) -> ColumnElement[bool]:
        """Rows strictly after (value, id) in this order."""
        # The redundant bound on the column alone is what lets the database seek in its index.
        c = self.column
        if self.desc:
            return and_(c <= value, or_(c < value, Repo.id < repo_id))
        return and_(c >= value, or_(c > value, Repo.id > repo_id))

    def upto(self, value: Any, repo_id: int) -> ColumnElement[bool]:
        """Rows up to and including (value, id) in this order (again with a bound the index can seek to)."""
        c = self.column
        if self.desc:
            return and_(c >= value, or_(c > value, Repo.id >= repo_id))
        return and_(c <= value, or_(c < value, Repo.id <= repo_id))

    def order(self) -> list[Any]:
        return [self.column.desc(), self.key.desc()] if self.desc else [self.column.asc(), self.key.asc()]

    def opaque(self) -> _Plan:
        """The same order over an expression no index covers, so that the database starts from the filters."""
        return _Plan(func.coalesce(self.column, self.column), self.desc, self.repo_type)


def _plan(session: Session, actor: Actor, q: Query) -> _Plan:
    if q.sort is not None and q.sort not in SORTS:
        raise BadRequest(
            f"Invalid sort {q.sort!r}: use one of downloads, likes, trendingScore, lastModified, createdAt"
        )
    if len(q.tags) > MAX_FILTERS:
        raise BadRequest(f"At most {MAX_FILTERS} filters")
    terms = q.terms()
    sort = q.sort or ("downloads" if terms else "id")
    plan = _Plan(SORTS[sort], q.descending if sort != "id" else False, q.repo_type)
    plan.position.append(Repo.type == q.repo_type)
    if q.cursor:
        plan.cursor = _decode_cursor(q.cursor, sort)
        plan.position.append(plan.after(*plan.cursor))
    plan.base.append(visible(actor))
    if q.gated is not None:
        plan.base.append(Repo.gated.is_not(None) if q.gated else Repo.gated.is_(None))
    if q.author:
        # Wrapped so that the walk keeps to the sort index (a planner would rather use the author index).
        plan.per_row.append(func.coalesce(Repo.namespace, "") == q.author)
        plan.author = q.author
    plan.tags = list(dict.fromkeys(q.tags))
    plan.per_row += [_has_tag(tag) for tag in plan.tags]
    plan.sig = signature(plan.tags)
    dialect = session.get_bind().dialect.name
    plan.walks = walks_for(dialect)
    if terms:
        plan.terms, plan.index = terms, index_for(dialect)
        plan.ranked = sort == "downloads" and plan.desc  # (keys serve the descending order only)
    return plan


def _on_row(key: Any, checks: list[ColumnElement[bool]]) -> list[ColumnElement[bool]]:
    """Checks on a repository's row, for the repository of id `key`: as they are on the row's own id, else
    as a lookup of that row by id (the outer part of _span_walk, whose rows are index entries)."""
    if key is Repo.id or not checks:
        return checks
    return [exists().where(Repo.id == key, *checks)]


def _has_tag(tag: str, key: Any = Repo.id) -> ColumnElement[bool]:
    """Whether the repository of id `key` (the row's own, or a column of a walk: _span_walk) carries `tag`."""
    return exists(_tag_row(tag, key))


def _tag_row(tag: str, key: Any) -> Select[Any]:
    return select(RepoTag.repo_id).where(RepoTag.repo_id == key, RepoTag.tag == tag)


def _sig_test(plan: _Plan, sig: Any = Repo.tag_sig) -> list[ColumnElement[bool]]:
    """The tags' signature tested on a sort index entry (its `tag_sig`, or a walk's column of it): cheap, and
    false for all but a few of the entries that lack a tag, so that the exact checks after it (a probe of
    repo_tags per tag) run on few entries. At 1M repositories 56 of the 19,600 entries walked for `ko` +
    `license:mit` by likes pass it, 51 of them matches."""
    return [sig.op("&")(plan.sig) == plan.sig] if plan.sig else []


def _select(session: Session, plan: _Plan, n: int) -> list[tuple[int, Any]]:
    """(id, sort value) of the first `n` matching rows in the plan's order."""
    key = (Repo.id, plan.column)
    order = plan.order()
    base = [*plan.position, *plan.base]
    if not plan.per_row and not plan.terms:
        return [(r[0], r[1]) for r in session.execute(select(*key).where(*base).order_by(*order).limit(n))]
    if plan.ranked:
        found = _ranked(session, plan, n)
        if found is not None:
            return found
    walk = max(WALK if plan.terms else WALK_SQL, 4 * n)
    if _too_rare(session, plan, n, walk):
        return _from_sets(session, plan, n, plan.cursor)
    boundary = _span_end(session, plan, plan.position, walk)  # the walk checks visibility itself
    stmt = select(*key).where(*base, *_sig_test(plan), *plan.per_row)
    if boundary is not None:
        stmt = stmt.where(plan.upto(boundary[0], boundary[1]))
    # Phase 1, in chunks: SQL checks author and tags; the search index checks the terms of each chunk.
    chunk = n if not plan.terms else max(n, CHUNK)
    out: list[tuple[int, Any]] = []
    last: tuple[Any, int] | None = None
    walked = 0
    while True:
        page = stmt if last is None else stmt.where(plan.after(*last))
        rows = _fetch(session, plan, page, plan, chunk, whole=plan.load and not plan.terms)
        if plan.index is not None and rows:
            keep = plan.index.filter_ids(session, plan.terms, [r[0] for r in rows])
            out += [r for r in rows if r[0] in keep]
        else:
            out += rows
        if len(out) >= n:
            return out[:n]
        if len(rows) < chunk:
            break
        last = (rows[-1][1], rows[-1][0])
        walked += len(rows)
        if plan.terms and boundary is not None and _hopeless(len(out), walked, n, walk):
            # Rare search terms: their full-text index answers at once. (Rare tag pairs keep walking: starting
            # from the rarer tag's rows and checking the other is slower than the walk for common tags.)
            return out + _from_sets(session, plan, n - len(out), last)
    if boundary is None:
        return out
    return out + _from_sets(session, plan, n - len(out), boundary)


def _ranked(session: Session, plan: _Plan, n: int) -> list[tuple[int, Any]] | None:
    """A search sorted by downloads: the index gives its matches in that order (haven.search.rank), in
    growing stretches, and the database checks visibility and the other filters of each. When the
    matches come too slowly to fill the page within the index's `ranked_walk` documents read (rare words on an
    engine that reads non-matching documents too, rare other filters) the set plans take over from there. None
    when the index cannot give this order.

    The share of documents read that matched is kept for the same terms (`_term_rates`): the next search for
    them sizes its first stretch by it, or goes to the set plans at once when the terms are too rare for the
    walk. At 1M repositories on PostgreSQL, `mistral gguf` then takes one stretch instead of two and `kalomi`
    none instead of one: a statement or two and their round trips fewer."""
    assert plan.index is not None and plan.walks is not None
    key = (str(session.get_bind().url), plan.repo_type, tuple(plan.terms))
    rate = _term_rates.get(key)
    if rate is not None and rate * plan.index.ranked_walk < n:
        return _from_sets(session, plan, n, plan.cursor)
    out: list[tuple[int, Any]] = []
    after, examined, seen = plan.cursor, 0, 0
    chunk = n + 8 + n // 16  # a few rows more than the page: private ones
    window = 16 * chunk
    if rate:
        window = min(max(window, int(RATE_MARGIN * chunk / rate)), plan.index.ranked_walk)
    while True:
        walk = plan.index.ranked(session, Stretch(plan.terms, plan.repo_type, after, chunk, window))
        if walk is None:
            return None if after == plan.cursor else out + _from_sets(session, plan, n - len(out), after)
        if walk.rows:
            ids = [r[0] for r in walk.rows]
            # A stretch about the page's size is checked by loading its rows whole: list_repos then finds the
            # page in the session and reads it no more (a statement fewer per search page).
            if plan.load and len(ids) <= 2 * n:
                check = select(Repo).where(plan.walks.one_of(Repo.id, ids), *plan.base, *plan.per_row)
                whole = {r.id: r for r in session.scalars(check)}
                plan.loaded.update(whole)
                keep = set(whole)
            else:
                check = select(Repo.id).where(plan.walks.one_of(Repo.id, ids), *plan.base, *plan.per_row)
                keep = set(session.scalars(check))
            out += [(i, d) for i, d in walk.rows if i in keep]
        after, examined, seen = walk.end, examined + walk.examined, seen + len(walk.rows)
        _term_rates.put(key, seen / max(examined, 1))
        if len(out) >= n or after is None:
            return out[:n]
        if _hopeless(len(out), examined, n, plan.index.ranked_walk):
            return out + _from_sets(session, plan, n - len(out), after)
        # The next stretch: enough matches and documents to fill the page at the rates seen so far, and a margin.
        need = RATE_MARGIN * (n - len(out)) / max(len(out), 1)
        chunk = min(MEMBER_CHUNK, 8 + int(need * seen))
        window = max(2 * window, min(int(need * examined), plan.index.ranked_walk))


def _too_rare(session: Session, plan: _Plan, n: int, walk: int) -> bool:
    """Whether a tag counted recently (`_tag_count`'s cache, never counted here) matches so few repositories
    that the walk could not fill the page even if every other filter matched: n * rows / count rows are
    needed, more than `walk`. Then the walk is skipped: for `ko` + `license:mit` at 1M it checked 3,000 rows
    with a tag probe each (7 ms of 25) and found 8 of 51."""
    sizes = [size for tag in plan.tags if (size := _cached_tag_count(session, tag)) is not None]
    if not sizes:
        return False
    return min(sizes) * walk < n * _rows(session, plan)


def _rows(session: Session, plan: _Plan) -> int:
    """The highest repository id: how many rows a filter's count is a share of. Kept like the tag counts (it
    only sizes spans, and moves slowly): a statement fewer for each listing of a rare filter."""
    if plan.rows is None:
        key = str(session.get_bind().url)
        rows = _max_ids.get(key)
        plan.rows = rows if rows is not None else _max_ids.put(key, session.scalar(select(func.max(Repo.id))) or 0)
    return plan.rows


def _fetch(session: Session, plan: _Plan, stmt: Any, column: _Plan, limit: int, whole: bool) -> list[tuple[int, Any]]:
    """(id, sort value) of the first `limit` rows of `stmt` (which selects those two) in `column`'s order. With
    `whole`, when every row it gives may be on the page, the same statement reads the rows themselves, kept in
    the plan for list_repos: the walk inside stays on the sort index, and only the rows it gives are visited."""
    page = stmt.order_by(*column.order()).limit(limit)
    if not whole:
        return [(r[0], r[1]) for r in session.execute(page)]
    sub = page.subquery()
    key, value = sub.c[0], sub.c[1]
    order = [value.desc(), key.desc()] if column.desc else [value.asc(), key.asc()]
    out: list[tuple[int, Any]] = []
    for row, v in session.execute(select(Repo, value).join(sub, Repo.id == key).order_by(*order)):
        plan.loaded[row.id] = row
        out.append((row.id, v))
    return out


def _hopeless(found: int, walked: int, n: int, walk: int) -> bool:
    """Whether, at the rate the walk has found matches so far, it would not fill `n` within `walk` rows
    (with one more match than it found, to be fair to a slow start)."""
    return (found + 1) * walk < n * walked


@dataclass
class _Driver:
    """One filter's matching ids as a subquery, and how many there are: exact for the narrowest (up to
    SET_CAP + 1), a lower bound above the narrowest so far for the others."""

    ids: Any  # Select of ids
    size: int
    tag: str | None = None  # the tag it stands for, if it is a tag
    terms: bool = False  # whether it stands for the search terms
    found: list[int] | None = None  # the search terms' ids, fetched once (up to SET_CAP + 1) instead of counted


def _narrowest(session: Session, plan: _Plan) -> _Driver:
    """The filter matching the fewest repositories (search terms, one tag or the author): the plans below
    start from it. Each is counted on its own index, at most SET_CAP + 1 ids read, and no further than one
    past the narrowest counted before it."""
    options = [_Driver(select(RepoTag.repo_id).where(RepoTag.tag == t), 0, tag=t) for t in plan.tags]
    if plan.author:
        options.append(_Driver(select(Repo.id).where(Repo.namespace == plan.author), 0))
    if plan.terms and plan.index is not None:  # last: on a tie, the others are cheaper to check per row
        options.append(_Driver(plan.index.candidates(plan.terms), 0, terms=True))
    best = SET_CAP  # each is counted only as far as it takes to tell it is not narrower than those before
    for option in options:
        if option.terms:  # a full-text query costs as much as its count: its ids are kept for the plans below
            option.found = list(session.scalars(option.ids.limit(best + 1)))
            option.size = len(option.found)
        elif option.tag is not None:
            option.size = _tag_count(session, option.tag, best + 1)
        else:
            option.size = _count(session, option.ids, best + 1)
        best = min(best, option.size)
    return min(options, key=lambda d: d.size)


Checks = Callable[[Any], list[ColumnElement[bool]]]  # filters as per-row checks on the repository of id `key`


def _others(session: Session, plan: _Plan, driver: _Driver) -> tuple[Checks, bool]:
    """The filters other than the driver, as per-row SQL checks on a given id column; and whether the search
    terms are left to check in Python (they match too many repositories for a set of their ids, and are not
    the driver)."""
    terms = None
    python_terms = False
    if plan.terms and plan.index is not None and not driver.terms:
        terms = plan.index.candidates(plan.terms)
        if _count(session, terms) > SET_CAP:
            terms, python_terms = None, True
    return partial(_rest, plan, driver, terms), python_terms


def _rest(plan: _Plan, driver: _Driver, terms: Any, key: Any = Repo.id) -> list[ColumnElement[bool]]:
    """The checks of `_others`: the other tags, the author and the search terms' ids (`terms`, when a set)."""
    rest = [_probe(plan, _tag_row(t, key)) for t in plan.tags if t != driver.tag]
    if plan.author and (driver.tag is not None or driver.terms):
        rest += _on_row(key, [func.coalesce(Repo.namespace, "") == plan.author])
    if terms is not None:
        rest.append(_member(plan, terms, key))
    return rest


def _count(session: Session, ids: Any, cap: int = SET_CAP + 1) -> int:
    """How many ids a subquery gives, up to `cap` (reading at most that many index entries)."""
    return session.scalar(select(func.count()).select_from(ids.limit(cap).subquery())) or 0


TAG_COUNT_TTL = 300.0  # seconds a tag's count is reused: it only picks a plan, so a stale one costs time, never rows
# (database, tag) -> (count, cap): the tag's count, up to that cap
_tag_counts: TTLCache[tuple[str, str], tuple[int, int]] = TTLCache("tag-counts", TAG_COUNT_TTL, 10_000)
# (database, type, driver, filters) -> share
_shares: TTLCache[tuple[Any, ...], float] = TTLCache("shares", TAG_COUNT_TTL, 10_000)
# (database, type, search terms) -> the share of documents a walk in rank order read that matched (_ranked)
_term_rates: TTLCache[tuple[Any, ...], float] = TTLCache("term-rates", TAG_COUNT_TTL, 10_000)
# database -> the highest repository id (_rows)
_max_ids: TTLCache[str, int] = TTLCache("max-ids", TAG_COUNT_TTL, 100)


def _tag_count(session: Session, tag: str, cap: int) -> int:
    """How many repositories carry `tag`, up to `cap`, from a count made in the last TAG_COUNT_TTL seconds when
    one tells (at 1M repositories counting `ko` reads 11,917 index entries: 2-3 ms per request)."""
    key = (str(session.get_bind().url), tag)
    hit = _tag_counts.get(key)
    if hit is not None and (hit[0] < hit[1] or hit[1] >= cap):
        return min(hit[0], cap)
    size = _count(session, select(RepoTag.repo_id).where(RepoTag.tag == tag), cap)
    _tag_counts.put(key, (size, cap))
    return size


def _cached_tag_count(session: Session, tag: str) -> int | None:
    """A recent exact count of `tag` (below its cap), or None: nothing is counted."""
    hit = _tag_counts.get((str(session.get_bind().url), tag))
    if hit is None or hit[0] >= hit[1]:
        return None
    return hit[0]


def _probe(plan: _Plan, rows: Select[Any]) -> ColumnElement[bool]:
    """Whether a correlated select has a row, checked per row of a walk (Walks.probe)."""
    assert plan.walks is not None
    return plan.walks.probe(rows)


def _member(plan: _Plan, ids: Any, key: Any = Repo.id) -> ColumnElement[bool]:
    """Membership in a set of ids, checked per row (Walks.member): both engines build the set once and look
    each row up in it."""
    assert plan.walks is not None
    return plan.walks.member(key, ids)


def _collect(
    session: Session,
    plan: _Plan,
    stmt: Any,
    n: int,
    after: tuple[Any, int] | None,
    python_terms: bool,
    column: _Plan,
    members: set[int] | None = None,
) -> list[tuple[int, Any]]:
    """The first `n` rows of `stmt` (ordered by `column`'s order) after `after`, the search terms checked in
    Python when `python_terms`, membership in `members` (when given) too, fetched in chunks."""
    chunk = MEMBER_CHUNK if members is not None else max(n, CHUNK) if python_terms else n
    out: list[tuple[int, Any]] = []
    while True:
        page = stmt if after is None else stmt.where(column.after(*after))
        rows = _fetch(session, plan, page, column, chunk, whole=plan.load and members is None and not python_terms)
        kept = rows if members is None else [r for r in rows if r[0] in members]
        if python_terms and kept and plan.index is not None:
            keep = plan.index.filter_ids(session, plan.terms, [r[0] for r in kept])
            kept = [r for r in kept if r[0] in keep]
        out += kept
        if len(out) >= n or len(rows) < chunk:
            return out[:n]
        after = (rows[-1][1], rows[-1][0])


def _from_sets(session: Session, plan: _Plan, n: int, after: tuple[Any, int] | None) -> list[tuple[int, Any]]:
    """The walk did not fill the page: the filters are rarer than it could tell. Start from the narrowest
    filter's ids: a small set is sorted whole (phase 2); a larger one is checked while walking the sort index
    further, index entries only, in spans sized by the share of rows that matched so far (n * rows / size
    entries at first), until it would cost more than sorting the set. A tag is checked on the entries that pass
    the tags' signature (_sig_test), a probe each; other filters as a set of ids the walk looks entries up in."""
    driver = _narrowest(session, plan)
    others, python_terms = _others(session, plan, driver)
    rest = others(Repo.id)
    big = driver.size > SET_CAP  # too many ids for a set: the driver is checked per row and never sorted
    members = None  # the search terms' ids when they drive: checked here, not computed again by the database
    checks: Checks
    if driver.tag is not None:
        checks = partial(lambda tag, key: [_probe(plan, _tag_row(tag, key))], driver.tag)
    elif big:
        checks, python_terms = _check(plan, driver, python_terms)
    elif driver.found is not None and plan.index is not None and plan.index.held_ids_walk:
        checks, members = lambda key: [], set(driver.found)
    else:
        checks = partial(lambda ids, key: [_member(plan, ids, key)], driver.ids)
    rate = max(driver.size, 1) / max(_rows(session, plan), 1)
    margin = WALK_SPAN
    if rest and not plan.terms and not big and driver.size > SORT_CAP:
        rate, margin = rate * _share(session, plan, driver, rest), SAMPLED_SPAN
    assert plan.walks is not None
    out: list[tuple[int, Any]] = []
    for i in range(MAX_SPANS):
        span = max(n, int(margin * (n - len(out)) / rate))
        if not big and (driver.size <= SORT_CAP or span * WALK_COST >= driver.size * SORT_COST):
            break
        position = [*plan.position, *([plan.after(*after)] if after is not None else [])]
        last = big and i == MAX_SPANS - 1  # a big driver's last span runs to the end
        if members is None and not python_terms and not last and plan.walks.span_walk:
            # One statement: the span's rows in order, checked as they come; its end is read only if needed.
            found = _span_walk(session, plan, position, lambda key: [*checks(key), *others(key)], span, n - len(out))
            bound = None if len(found) >= n - len(out) else _span_end(session, plan, position, span)
        else:
            bound = None if last else _span_end(session, plan, position, span)
            stmt = select(Repo.id, plan.column).where(*position, *_sig_test(plan), *checks(Repo.id), *plan.base, *rest)
            if bound is not None:
                stmt = stmt.where(plan.upto(bound[0], bound[1]))
            found = _collect(session, plan, stmt, n - len(out), None, python_terms, plan, members)
        out += found
        if len(out) >= n or bound is None:
            return out
        after, rate, margin = bound, max(len(found), 1) / span, WALK_SPAN
    return out + _sorted(session, plan, driver, rest, python_terms, n - len(out), after)


def _span_walk(
    session: Session, plan: _Plan, position: list[ColumnElement[bool]], checks: Checks, span: int, n: int
) -> list[tuple[int, Any]]:
    """The first `n` rows among the next `span` of the sort order that pass `checks` and the plan's base
    conditions. The inner part walks the sort index alone (index entries only) and stops after `span` rows;
    the checks on the entries it gives (the tags' signature, then membership and tags) come first and only rows
    that pass them are read whole
    (base conditions; the page's rows, kept in the plan for list_repos), so that the walk stops at the n-th
    match: no statement of its own to find where the span ends (an index scan over the whole span, 6 ms of
    about 25 for `ko` + `license:mit` by likes at 1M repositories on PostgreSQL)."""
    walk = select(Repo.id, plan.column, Repo.tag_sig).where(*position).order_by(*plan.order()).limit(span).subquery()
    key, value = walk.c[0], walk.c[1]
    stmt = select(key, value).where(*_sig_test(plan, walk.c[2]), *checks(key), *_on_row(key, plan.base))
    return _fetch(session, plan, stmt, _Plan(value, plan.desc, plan.repo_type, key=key), n, whole=plan.load)


def _span_end(session: Session, plan: _Plan, position: list[ColumnElement[bool]], span: int) -> tuple[Any, int] | None:
    """The last row of the next `span` of the sort order (None past its end): an index-only scan."""
    row = session.execute(
        select(plan.column, Repo.id).where(*position).order_by(*plan.order()).offset(span - 1).limit(1)
    ).first()
    return None if row is None else (row[0], row[1])


def _share(session: Session, plan: _Plan, driver: _Driver, rest: list[ColumnElement[bool]]) -> float:
    """The share of the driver's ids (its first SAMPLE_IDS) that are rows of the type the caller sees and pass
    the other filters: the driver's size alone overstates how fast the walk finds matches when other filters
    remain (`ko` + `license:mit` at 1M: 2,180 of `ko`'s 11,917), so that the first span fell short and a
    second one built the set again (5 ms of 15). Kept like the tag counts (1.4-2.2 ms per request at 1M)."""
    key = (str(session.get_bind().url), plan.repo_type, driver.tag, plan.author, *plan.tags)
    hit = _shares.get(key)
    if hit is not None:
        return hit
    sample = driver.ids.limit(SAMPLE_IDS).subquery()
    taken, passing = session.execute(
        select(func.count(), func.count(Repo.id))
        .select_from(sample)
        .outerjoin(Repo, and_(Repo.id == sample.c[0], Repo.type == plan.repo_type, *plan.base, *rest))
    ).one()
    return _shares.put(key, (passing + 1) / (taken + 1))


def _check(plan: _Plan, driver: _Driver, python_terms: bool) -> tuple[Checks, bool]:
    """The driver's filter as a check per row (SQL, or the search terms in Python)."""
    if driver.terms:
        return lambda key: [], True
    return lambda key: _on_row(key, [func.coalesce(Repo.namespace, "") == plan.author]), python_terms


def _sorted(
    session: Session,
    plan: _Plan,
    driver: _Driver,
    rest: list[ColumnElement[bool]],
    python_terms: bool,
    n: int,
    after: tuple[Any, int] | None,
) -> list[tuple[int, Any]]:
    """Phase 2: the database starts from the driver's ids and sorts the matching rows. A small set goes as a
    list of ids: a planner that misjudges a full-text condition's selectivity would scan the table instead;
    so do the search terms' ids where the engine holds them (PostgreSQL ran the GIN query again per row: 3.1 s
    for the 6,444 matches of `mistral gguf` at 1M repositories, 0.25 s from the list)."""
    opaque = plan.opaque()
    ids = driver.ids
    held = driver.found is not None and plan.index is not None and plan.index.held_ids_walk
    if driver.found is not None and (held or driver.size <= SORT_CAP):
        ids = driver.found
    elif driver.size <= SORT_CAP:
        ids = list(session.scalars(driver.ids))
    assert plan.walks is not None
    member = plan.walks.one_of(Repo.id, ids) if isinstance(ids, list) else Repo.id.in_(ids)
    stmt = select(Repo.id, opaque.column).where(
        func.coalesce(Repo.type, "") == plan.repo_type, *plan.base, member, *rest
    )
    return _collect(session, plan, stmt, n, after, python_terms, opaque)


def list_repos(session: Session, actor: Actor, q: Query) -> tuple[list[Repo], str | None]:
    """One page of matching repositories and the cursor of the next page (None at the end)."""
    if q.limit is not None and q.limit < 1:
        raise BadRequest("limit must be a positive integer")
    plan = _plan(session, actor, q)
    plan.load = True
    page = min(q.limit or MAX_PAGE, MAX_PAGE)
    if not plan.per_row and not plan.terms:
        # No filter: the page's rows straight from the sort index, one statement instead of ids then rows.
        stmt = select(Repo).where(*plan.position, *plan.base).order_by(*plan.order()).limit(page + 1)
        rows = list(session.scalars(stmt))
        keys = [(r.id, getattr(r, plan.column.key)) for r in rows]
        rows = rows[:page]
    else:
        keys = _select(session, plan, page + 1)
        found = _load(session, plan, [k[0] for k in keys[:page]])
        rows = [found[k[0]] for k in keys[:page] if k[0] in found]
    if len(keys) <= page or not rows:
        return rows, None
    return rows, _encode_cursor(keys[page - 1][1], keys[page - 1][0])


def _load(session: Session, plan: _Plan, ids: list[int]) -> dict[int, Repo]:
    """The rows of these ids: those the plan read already (_ranked, _fetch), the rest in one statement."""
    held = {i: plan.loaded[i] for i in ids if i in plan.loaded}
    missing = [i for i in ids if i not in held]
    if missing:
        assert plan.walks is not None
        held.update((r.id, r) for r in session.scalars(select(Repo).where(plan.walks.one_of(Repo.id, missing))))
    return held


# --- facets ---------------------------------------------------------------------------------------

SAMPLE = 10_000  # tag counts cover at most this many matching repositories (the first in sort order)
FACET_TTL = 30.0  # the default of HAVEN_FACET_TTL (set_facet_ttl)
# Past its TTL a count is still served for this long while one thread counts again (see count_tags).
FACET_STALE = 300.0
_facet_cache: TTLCache[tuple[Any, ...], TagCounts] = TTLCache("facets", FACET_TTL, 1000, FACET_STALE)


def set_facet_ttl(seconds: float) -> None:
    """Keep tag counts fresh this long in this process (HAVEN_FACET_TTL, applied when the app is built)."""
    _facet_cache.ttl = seconds


@dataclass
class TagCounts:
    counts: list[tuple[str, int]]  # most frequent first
    repos: int  # how many repositories were counted
    exact: bool  # False when more than SAMPLE repositories match: counts are over the first SAMPLE
    authors: list[tuple[str, int]] = field(default_factory=list)  # namespace -> repositories, same sample


def count_tags(
    session: Session,
    actor: Actor,
    q: Query,
    top: int = 100,
    reopen: Callable[[], AbstractContextManager[Session]] | None = None,
) -> TagCounts:
    """Tag -> number of matching repositories, for the listing's facets. Bounded: at most SAMPLE
    repositories (the first in the query's order) are counted; results are kept FACET_TTL seconds.

    A count takes seconds at a million repositories. With `reopen` (how to open a session of one's own),
    an expired count is still answered for up to FACET_STALE seconds while one background thread counts
    again, so that no request waits for it; without, or older than that, the caller counts."""
    key = (
        q.repo_type, tuple(q.search), q.author, tuple(sorted(q.tags)), q.sort, q.gated, top,
        actor.visibility_key(),
    )  # fmt: skip
    if reopen is None:
        hit = _facet_cache.get(key)
    else:
        hit = _facet_cache.get_or_recount(key, partial(_tally_apart, reopen, actor, q, top))
    return hit if hit is not None else _facet_cache.put(key, _tally(session, actor, q, top))


def _tally_apart(reopen: Callable[[], AbstractContextManager[Session]], actor: Actor, q: Query, top: int) -> TagCounts:
    """`_tally` in a session of its own (a recount runs in a thread of its own)."""
    with reopen() as session:
        return _tally(session, actor, q, top)


def _tally(session: Session, actor: Actor, q: Query, top: int) -> TagCounts:
    plan = _plan(session, actor, Query(**{**q.__dict__, "cursor": None}))
    ids = [r[0] for r in _select(session, plan, SAMPLE + 1)]
    exact = len(ids) <= SAMPLE
    ids = ids[:SAMPLE]
    counts: Counter[str] = Counter()
    authors: Counter[str] = Counter()
    for start in range(0, len(ids), 2000):
        chunk = ids[start : start + 2000]
        stmt = select(RepoTag.tag, func.count()).where(RepoTag.repo_id.in_(chunk)).group_by(RepoTag.tag)
        counts.update({tag: n for tag, n in session.execute(stmt)})
        stmt = select(Repo.namespace, func.count()).where(Repo.id.in_(chunk)).group_by(Repo.namespace)
        authors.update({name: n for name, n in session.execute(stmt)})
    return TagCounts(
        sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
        len(ids),
        exact,
        sorted(authors.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
    )


# Kinds of tags, as the Hub groups them in /api/models-tags-by-type.
PIPELINE_TAGS = frozenset(
    [
        "text-classification",
        "token-classification",
        "table-question-answering",
        "question-answering",
        "zero-shot-classification",
        "translation",
        "summarization",
        "feature-extraction",
        "text-generation",
        "text2text-generation",
        "fill-mask",
        "sentence-similarity",
        "text-to-speech",
        "text-to-audio",
        "automatic-speech-recognition",
        "audio-to-audio",
        "audio-classification",
        "voice-activity-detection",
        "depth-estimation",
        "image-classification",
        "object-detection",
        "image-segmentation",
        "text-to-image",
        "image-to-text",
        "image-to-image",
        "image-to-video",
        "unconditional-image-generation",
        "video-classification",
        "reinforcement-learning",
        "robotics",
        "tabular-classification",
        "tabular-regression",
        "tabular-to-text",
        "table-to-text",
        "multiple-choice",
        "text-retrieval",
        "time-series-forecasting",
        "text-to-video",
        "image-text-to-text",
        "visual-question-answering",
        "document-question-answering",
        "zero-shot-image-classification",
        "graph-ml",
        "mask-generation",
        "zero-shot-object-detection",
        "text-to-3d",
        "image-to-3d",
        "image-feature-extraction",
        "video-text-to-text",
        "keypoint-detection",
        "any-to-any",
        "text-ranking",
    ]
)
LIBRARIES = frozenset(
    [
        "transformers",
        "pytorch",
        "tensorflow",
        "jax",
        "safetensors",
        "onnx",
        "gguf",
        "diffusers",
        "sentence-transformers",
        "timm",
        "peft",
        "adapter-transformers",
        "keras",
        "tf-keras",
        "spacy",
        "flair",
        "fastai",
        "sklearn",
        "scikit-learn",
        "stable-baselines3",
        "ml-agents",
        "setfit",
        "span-marker",
        "espnet",
        "speechbrain",
        "nemo",
        "open_clip",
        "paddlepaddle",
        "mlx",
        "transformers.js",
        "coreml",
        "openvino",
        "llamafile",
        "fasttext",
        "allennlp",
        "asteroid",
        "bertopic",
        "pyannote-audio",
        "sample-factory",
        "tensorboard",
        "joblib",
        "datasets",
        "pandas",
        "polars",
        "dask",
        "mlcroissant",
        "webdataset",
        "gradio",
        "streamlit",
        "docker",
        "static",
    ]
)


def tag_type(tag: str, repo_type: str) -> str:
    """The kind of a tag: license, dataset, language, region, pipeline_tag, library or other."""
    prefix, _, rest = tag.partition(":")
    if rest:
        return {
            "license": "license",
            "dataset": "dataset",
            "language": "language",
            "region": "region",
            "task_categories": "pipeline_tag",
        }.get(prefix, "other")
    if tag in PIPELINE_TAGS:
        return "pipeline_tag"
    if tag in LIBRARIES:
        return "library"
    if repo_type != "dataset" and 2 <= len(tag) <= 3 and tag.isalpha() and tag.islower():
        return "language"
    return "other"
