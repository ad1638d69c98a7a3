"""The two-phase listing planner returns exactly what a brute-force filter and sort would, on both
databases, whichever phase answers (WALK is made tiny so that rare filters reach phase 2)."""

from __future__ import annotations

import random

import pytest

from haven.db import Database
from haven.errors import BadRequest
from haven.repos import listing
from haven.repos.listing import Query, count_tags, list_repos
from haven.repos.walks import PostgresWalks, SqliteWalks
from haven.search.postgres import PostgresIndex
from haven.search.sqlite import SqliteIndex
from tests.search.conftest import ANON, add_repo, unique


def _build(db: Database) -> tuple[str, list[dict[str, object]]]:
    rng = random.Random(7)
    word = unique("pl")
    rows = []
    for i in range(60):
        tags = [t for t, p in (("common", 0.7), ("rare", 0.05), (f"mid-{word}", 0.3)) if rng.random() < p]
        text = f"{word} " + ("needle" if i % 17 == 0 else "hay")
        author = "ann" if i % 3 else "ben"
        private = i % 11 == 5
        full_id = f"{author}/{word}-{i}"
        repo_id = add_repo(
            db, full_id, readme=text, tags=tuple(tags), private=private,
            downloads=rng.randrange(50), likes=rng.randrange(5), trending_score=rng.random(),
        )  # fmt: skip
        rows.append({"id": repo_id, "full_id": full_id, "tags": tags, "text": text, "author": author,
                     "private": private})  # fmt: skip
    return word, rows


_CORPORA: dict[str, tuple[str, list[dict[str, object]]]] = {}


def corpus_for(db: Database) -> tuple[str, list[dict[str, object]]]:
    key = db.url
    if key not in _CORPORA:
        _CORPORA[key] = _build(db)
    return _CORPORA[key]


def every_page(db: Database, q: Query) -> list[str]:
    out, pages = [], 0
    while True:
        with db.read() as session:
            rows, cursor = list_repos(session, ANON, q)
        out += [r.full_id for r in rows]
        pages += 1
        if cursor is None:
            return out
        q = Query(**{**q.__dict__, "cursor": cursor})


def expected(db: Database, q: Query, word: str) -> list[str]:
    from sqlalchemy import select

    from haven.repos.models import Repo

    with db.read() as session:
        rows = list(session.scalars(select(Repo).where(Repo.full_id.like(f"%/{word}-%"))))
    terms = q.terms()

    def ok(r: Repo) -> bool:
        text = {*r.full_id.replace("/", " ").replace("-", " ").split(), *(r.tags or [])}
        hay = "needle" if int(r.full_id.rsplit("-", 1)[1]) % 17 == 0 else "hay"
        words = text | {hay, word}
        return (
            not r.private
            and (q.author is None or r.namespace == q.author)
            and all(t in (r.tags or []) for t in q.tags)
            and all(any(w.startswith(t) for w in words) for t in terms)
        )

    sort = q.sort or ("downloads" if terms else "id")
    key = listing.SORTS[sort].key
    hits = sorted(
        (r for r in rows if ok(r)), key=lambda r: (getattr(r, key), r.id), reverse=q.descending and sort != "id"
    )
    return [r.full_id for r in hits]


@pytest.mark.parametrize("walk", [1000, 3])
@pytest.mark.parametrize(
    "case",
    [
        {"search": ["{word}"]},
        {"search": ["{word} needle"], "sort": "likes"},
        {"search": ["{word}"], "tags": ["rare"], "sort": "trendingScore"},
        {"search": ["{word}"], "tags": ["common", "mid-{word}"], "sort": "downloads", "descending": False},
        {"tags": ["mid-{word}"], "author": "ben", "sort": "downloads"},
        {"search": ["{word}"], "author": "ann", "sort": "createdAt"},
        {"tags": ["mid-{word}"]},
    ],
)
def test_pages_equal_brute_force(db: Database, monkeypatch: pytest.MonkeyPatch, case: dict, walk: int) -> None:
    word, _ = corpus_for(db)
    monkeypatch.setattr(listing, "WALK", walk)
    monkeypatch.setattr(listing, "WALK_SQL", walk)
    fill = {k: [s.format(word=word) for s in v] if isinstance(v, list) else v for k, v in case.items()}
    for limit in (4, 1000):
        q = Query(repo_type="model", limit=limit, **fill)
        got = every_page(db, q)
        assert got == expected(db, q, word)
        assert len(got) == len(set(got))


# Constants that force each plan of `_from_sets` (reached once the walk of 3 rows gives up).
SET_PLANS = {
    "narrowest set sorted": {"SORT_CAP": 10**9},
    "sort index walked with a membership check": {"SORT_CAP": 0, "SORT_COST": 10**9},
    "membership walk, terms checked in Python": {"SORT_CAP": 0, "SORT_COST": 10**9, "SET_CAP": 0},
    "narrowest set sorted, terms checked in Python": {"SORT_CAP": 10**9, "SET_CAP": 0},
    "membership walk in spans of n rows": {
        "SORT_CAP": 0,
        "SORT_COST": 10**9,
        "WALK_SPAN": 0.01,
        "SAMPLED_SPAN": 0.01,
        "MAX_SPANS": 10**9,
    },
    "membership walk cut short, the rest sorted": {
        "SORT_CAP": 0,
        "SORT_COST": 10**9,
        "WALK_SPAN": 0.01,
        "SAMPLED_SPAN": 0.01,
        "MAX_SPANS": 1,
    },
    "the same, terms checked in Python": {
        "SORT_CAP": 0,
        "SORT_COST": 10**9,
        "WALK_SPAN": 0.01,
        "SAMPLED_SPAN": 0.01,
        "MAX_SPANS": 1,
        "SET_CAP": 0,
    },
}


@pytest.mark.parametrize("spans", [False, True], ids=["span end read first", "span walked in one statement"])
@pytest.mark.parametrize("held", [False, True], ids=["terms rerun by the database", "held term ids checked here"])
@pytest.mark.parametrize("plan", list(SET_PLANS))
@pytest.mark.parametrize(
    "case",
    [
        {"search": ["{word}"]},
        {"search": ["{word} needle"], "sort": "likes", "descending": False},
        {"search": ["{word}"], "tags": ["common", "mid-{word}"], "author": "ann", "sort": "createdAt"},
        {"tags": ["mid-{word}", "common"], "sort": "downloads"},
        {"tags": ["mid-{word}"], "author": "ben", "sort": "trendingScore"},
    ],
)
def test_set_plans_equal_brute_force(
    db: Database, monkeypatch: pytest.MonkeyPatch, case: dict, plan: str, held: bool, spans: bool
) -> None:
    word, _ = corpus_for(db)
    for index in (SqliteIndex, PostgresIndex):  # either engine's ways of walking, on both engines
        monkeypatch.setattr(index, "held_ids_walk", held)
    for walks in (SqliteWalks, PostgresWalks):
        monkeypatch.setattr(walks, "span_walk", spans)
    monkeypatch.setattr(listing, "WALK", 3)
    monkeypatch.setattr(listing, "WALK_SQL", 3)
    for name, value in SET_PLANS[plan].items():
        monkeypatch.setattr(listing, name, value)
    fill = {k: [s.format(word=word) for s in v] if isinstance(v, list) else v for k, v in case.items()}
    for limit in (2, 7, 1000):
        q = Query(repo_type="model", limit=limit, **fill)
        assert every_page(db, q) == expected(db, q, word)


@pytest.mark.parametrize(
    "case",
    [
        {"tags": ["rare"], "sort": "likes"},
        {"tags": ["common", "rare"], "sort": "downloads", "descending": False},
        {"tags": ["rare", "mid-{word}"], "author": "ann", "sort": "trendingScore"},
        {"tags": ["common", "rare"], "sort": "likes", "SORT_CAP": 0, "SORT_COST": 10**9, "SAMPLED_SPAN": 0.01},
    ],
)
def test_a_tag_counted_recently_and_too_rare_for_the_walk_skips_it(
    db: Database, monkeypatch: pytest.MonkeyPatch, case: dict
) -> None:
    """Once a listing has counted a rare tag, the next ones start from the sets (the walk of WALK_SQL rows
    could not fill the page), with the same pages, cursors included."""
    word, _ = corpus_for(db)
    monkeypatch.setattr(listing, "WALK_SQL", 3)
    fill = {k: [s.format(word=word) for s in v] if isinstance(v, list) else v for k, v in case.items()}
    for name in ("SORT_CAP", "SORT_COST", "SAMPLED_SPAN"):
        if name in fill:
            monkeypatch.setattr(listing, name, fill.pop(name))
    q = Query(repo_type="model", limit=2, **fill)
    first = every_page(db, q)  # counts the tags (phase 2) on its first page
    with db.read() as session:
        assert listing._too_rare(session, listing._plan(session, ANON, q), 3, 12)
    assert every_page(db, q) == first == expected(db, q, word)


def test_invalid_queries_are_bad_requests(db: Database) -> None:
    with db.read() as session:
        for q in (
            Query(repo_type="model", sort="nope"),
            Query(repo_type="model", cursor="!!"),
            Query(repo_type="model", sort="downloads", cursor="WyJ4IiwgMV0="),  # ["x", 1]: not a number
            Query(repo_type="model", tags=[f"t{i}" for i in range(50)]),
            Query(repo_type="model", limit=0),
        ):
            with pytest.raises(BadRequest):
                list_repos(session, ANON, q)


def test_tag_counts_cover_the_query_and_skip_private_repos(db: Database) -> None:
    word, rows = corpus_for(db)
    with db.read() as session:
        result = count_tags(session, ANON, Query(repo_type="model", search=[word]))
    counts = dict(result.counts)
    public = [r for r in rows if not r["private"]]
    assert result.exact and result.repos == len(public)
    assert counts.get("common", 0) == sum("common" in r["tags"] for r in public)  # type: ignore[operator]
    assert counts.get(f"mid-{word}", 0) == sum(f"mid-{word}" in r["tags"] for r in public)  # type: ignore[operator]
