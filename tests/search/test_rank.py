"""Searches sorted by downloads read the full-text index in rank order (haven.search.rank) on both engines:
the keys sort as the listing does, follow every change of the downloads, and pages stay exact whichever
way the walk ends (filled, switched to the set plans, or not possible at all)."""

from __future__ import annotations

import random

import pytest
from sqlalchemy import delete, event, text, update

from haven import search as search_index
from haven.db import Database
from haven.repos import listing, signals
from haven.repos.listing import Query, list_repos
from haven.repos.models import Repo
from haven.search import index_for
from haven.search.postgres import PostgresIndex, sig_test
from haven.search.rank import DOWNLOAD_LIMIT, Stretch, decode, key_range, key_sql, rank_key
from haven.search.sqlite import SqliteIndex
from tests.search.conftest import ANON, add_repo, unique


def search(db: Database, word: str, limit: int = 1000, **more: object) -> list[int]:
    """Every page of a search for `word` (sorted by downloads unless `more` says otherwise), as ids."""
    q = Query(repo_type="model", search=[word], limit=limit, **more)  # type: ignore[arg-type]
    out: list[int] = []
    while True:
        with db.read() as session:
            rows, cursor = list_repos(session, ANON, q)
        out += [r.id for r in rows]
        if cursor is None:
            return out
        q = Query(**{**q.__dict__, "cursor": cursor})


def by_downloads(db: Database, ids: list[int]) -> list[int]:
    """The ids in the listing's order (downloads, then id, descending), from the rows as they are now."""
    with db.read() as session:
        rows = session.execute(text(f"SELECT id, downloads FROM repos WHERE id IN ({','.join(map(str, ids))})"))
        return [r[0] for r in sorted(rows, key=lambda r: (r[1], r[0]), reverse=True)]


def test_keys_sort_as_the_listing_and_each_type_is_one_range(db: Database) -> None:
    rows = [(t, d, i) for t in ("model", "dataset", "space") for d in (0, 1, 7, DOWNLOAD_LIMIT - 1) for i in (1, 2, 9)]
    for repo_type in ("model", "dataset", "space"):
        low, high = key_range(repo_type, None)  # type: ignore[misc]
        mine = sorted((r for r in rows if r[0] == repo_type), key=lambda r: rank_key(*r))
        assert [(d, i) for _, d, i in mine] == sorted(((d, i) for _, d, i in mine), reverse=True)
        assert all(low <= rank_key(*r) <= high for r in mine)
        assert all(decode(rank_key(*r)) == (r[2], r[1]) for r in mine)
    assert rank_key("model", DOWNLOAD_LIMIT, 5) == -5  # too many downloads for a key: unranked
    with db.read() as session:  # the database computes the same keys as Python
        for r in rows:
            sql = f"SELECT {key_sql('x.')} FROM (SELECT '{r[0]}' AS type, {r[1]} AS downloads, {r[2]} AS id) x"
            assert session.execute(text(sql)).scalar() == rank_key(*r)


def test_documents_follow_downloads_type_changes_and_deletion(db: Database) -> None:
    word = unique("rk")
    ids = [add_repo(db, f"ann/{word}-{i}", downloads=d) for i, d in enumerate((5, 50, 0, 7))]
    assert search(db, word) == by_downloads(db, ids)
    with db.write() as session:  # the download counter's path: a flush recomputes the 30-day counts
        signals.record_downloads(session, {ids[2]: 100, ids[0]: 1}, signals.today())
    assert search(db, word) == by_downloads(db, ids) and search(db, word)[0] == ids[2]
    with db.write() as session:  # any other update of the column too
        session.execute(update(Repo).where(Repo.id == ids[3]).values(downloads=1000))
        session.execute(update(Repo).where(Repo.id == ids[1]).values(type="dataset"))
    assert search(db, word) == by_downloads(db, [ids[0], ids[2], ids[3]])
    assert search(db, word, 5) == search(db, word)  # with cursors too
    with db.write() as session:
        session.execute(delete(Repo).where(Repo.id == ids[3]))
    assert search(db, word) == by_downloads(db, [ids[0], ids[2]])
    with db.read() as session:
        index = index_for(session.get_bind().dialect.name)
        walk = index.ranked(session, Stretch([word], "model", None, 10, 10**6))
        assert walk is not None and [r[0] for r in walk.rows] == by_downloads(db, [ids[0], ids[2]])
        assert walk.end is None


def test_a_row_without_a_key_sends_listings_to_the_other_plans(db: Database) -> None:
    word = unique("uk")
    ids = [add_repo(db, f"ann/{word}-{i}", downloads=i) for i in range(3)]
    with db.write() as session:
        session.execute(update(Repo).where(Repo.id == ids[0]).values(downloads=DOWNLOAD_LIMIT + 3))
    try:
        with db.read() as session:
            index = index_for(session.get_bind().dialect.name)
            assert index.ranked(session, Stretch([word], "model", None, 10, 100)) is None
        assert search(db, word) == [ids[0], ids[2], ids[1]]
    finally:
        with db.write() as session:  # the shared database has keys again for the other tests
            session.execute(update(Repo).where(Repo.id == ids[0]).values(downloads=0))
    assert search(db, word) == [ids[2], ids[1], ids[0]]


@pytest.mark.parametrize("budget", [1, 10**6], ids=["set plans after one stretch", "walked to the end"])
@pytest.mark.parametrize("tags", [(), ("even",)], ids=["terms only", "terms and a tag"])
def test_walks_in_stretches_equal_brute_force(
    db: Database, monkeypatch: pytest.MonkeyPatch, budget: int, tags: tuple[str, ...]
) -> None:
    rng = random.Random(11)
    word = unique("st")
    rows = {}
    for i in range(40):
        tag = ("even",) if i % 2 == 0 else ()
        rows[add_repo(db, f"ben/{word}-{i}", tags=tag, private=i % 9 == 4, downloads=rng.randrange(6))] = tag
    for index in (SqliteIndex, PostgresIndex):
        monkeypatch.setattr(index, "ranked_walk", budget)
    monkeypatch.setattr(listing, "MEMBER_CHUNK", 3)  # stretches of a few rows: many round trips per page
    want = by_downloads(db, [i for i, tag in rows.items() if set(tags) <= set(tag)])
    with db.read() as session:
        private = {r[0] for r in session.execute(text("SELECT id FROM repos WHERE private"))}
    want = [i for i in want if i not in private]
    for limit in (1, 4, 1000):
        assert search(db, word, limit, tags=list(tags)) == want


def test_a_walk_tells_apart_words_whose_signature_bits_another_card_set(postgres_db: Database) -> None:
    """PostgreSQL's walk reads a signature of each document's words (two bits per word) before the document:
    a card whose other words set both bits of a query word must still not match, and a card edit changes
    the signature."""
    db, word = postgres_db, unique("sg")
    bit = "(repo_rank_hash(w) {} & 1023) = (repo_rank_hash(:w) {} & 1023)"
    with db.read() as session:  # words setting the query word's first bit, and its second
        twins = [
            session.execute(
                text(f"SELECT w FROM unnest(CAST(:ws AS TEXT[])) w WHERE {cond} LIMIT 1"),
                {"w": word, "ws": [unique("tw") for _ in range(5_000)]},
            ).scalar_one()
            for cond in (bit.format("", ""), bit.format(">> 10", ">> 10"))
        ]
    twin = " ".join(twins)
    decoy = add_repo(db, f"ann/{unique('nm')}", readme=f"about {twin}")
    both = add_repo(db, f"ann/{unique('nm')}", readme=f"about {twin} and {word}", downloads=3)
    named = add_repo(db, f"ann/{word}-x", downloads=1)  # the name's prefix token 0p<word> sets the word's bits
    with db.read() as session:  # the decoy's signature passes for the word: only its document tells
        test, bits = sig_test([word])
        assert session.execute(text(f"SELECT {test} FROM repo_rank WHERE repo_id = :id"), bits | {"id": decoy}).scalar()
    assert search(db, word) == [both, named]
    assert search(db, twins[0]) == [both, decoy]
    with db.write() as session:  # a new card: the old words leave the signature, the new ones enter it
        search_index.index_card(session, decoy, f"ann/x{decoy}", f"now {word}", [])
        search_index.index_card(session, both, f"ann/y{both}", "nothing", [])
    assert search(db, word) == [named, decoy]
    assert search(db, twins[0]) == []


def test_words_spelt_like_prefix_tokens_are_found(db: Database) -> None:
    """A query word starting with the prefix mark (`0px`) tests the bit of what it spells, not of its tail."""
    word = unique("px")
    ids = [add_repo(db, f"ann/0p{word}-{i}", readme=f"0p{word}", downloads=i) for i in range(2)]
    add_repo(db, f"ann/{unique('nm')}", readme=word)  # the card word `<word>`: not `0p<word>`
    assert search(db, f"0p{word}") == ids[::-1]
    assert search(db, f"0p{word[:4]}") == ids[::-1]  # a name prefix


@pytest.mark.parametrize(
    "rate", [0.0, 1e-6, 0.05, 1.0], ids=["never matches", "very rare", "one in twenty", "every document"]
)
def test_a_remembered_match_rate_picks_the_plan_never_the_rows(
    db: Database, monkeypatch: pytest.MonkeyPatch, rate: float
) -> None:
    """A search keeps the share of documents its walk read that matched, to size the next walk for the same
    terms or skip it: whatever that share says, right or stale, the pages are the same."""
    rng = random.Random(5)
    word = unique("rt")
    ids = [add_repo(db, f"ann/{word}-{i}", private=i % 7 == 3, downloads=rng.randrange(4)) for i in range(30)]
    with db.read() as session:
        private = {r[0] for r in session.execute(text("SELECT id FROM repos WHERE private"))}
        key = (str(session.get_bind().url), "model", tuple(Query(repo_type="model", search=[word]).terms()))
    want = [i for i in by_downloads(db, ids) if i not in private]
    monkeypatch.setattr(listing, "MEMBER_CHUNK", 3)
    for limit in (1, 4, 1000):
        listing._term_rates.put(key, rate)
        assert search(db, word, limit) == want


def test_terms_too_rare_for_the_walk_go_to_the_set_plans_at_once_the_second_time(
    postgres_db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    db, word = postgres_db, unique("rr")
    ids = [add_repo(db, f"ben/{word}-{i}", downloads=i) for i in range(3)]
    monkeypatch.setattr(PostgresIndex, "ranked_walk", 20)  # a walk of 20 documents cannot fill a page of 50
    statements: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        walks = []
        for _ in range(2):
            statements.clear()
            assert search(db, word, 50) == ids[::-1]
            walks.append(sum("repo_rank" in s for s in statements))
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    assert walks[0] >= 1 and walks[1] == 0, walks
