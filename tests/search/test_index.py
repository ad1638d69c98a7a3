"""The SearchIndex implementations (SQLite FTS5, PostgreSQL tsvector) against the same expectations."""

from __future__ import annotations

from sqlalchemy import delete, select

from haven import search
from haven.db import Database
from haven.repos.models import Repo
from haven.search import SearchIndex, index_for
from haven.search.postgres import PostgresIndex
from haven.search.sqlite import SqliteIndex
from tests.search.conftest import add_repo, unique


def found(db: Database, query: str) -> set[int]:
    terms = search.query_terms(query)
    with db.read() as session:
        index = index_for(session.get_bind().dialect.name)
        by_row = set(session.scalars(select(Repo.id).where(index.matches(terms))))
        by_set = set(session.scalars(index.candidates(terms)))
    assert by_row == by_set - (by_set - by_row)  # documents of deleted rows never surface through `matches`
    return by_row


def test_both_implementations_satisfy_the_interface() -> None:
    for impl in (SqliteIndex(), PostgresIndex()):
        index: SearchIndex = impl
        assert callable(index.matches) and callable(index.candidates) and callable(index.put)


def test_name_words_match_by_prefix_and_card_words_whole(db: Database) -> None:
    word = unique("zq")
    tiny = add_repo(db, f"ann/tiny-{word}-base", readme="# About\nA checkpoint for sentiment-analysis.")
    camel = add_repo(db, f"ann/Big{word.capitalize()}Large")
    card = add_repo(db, "ben/" + unique("plain"), readme=f"---\ntags: [x]\n---\nTrained on {word} corpora.")
    assert found(db, word) == {tiny, camel, card}
    assert {tiny, camel} <= found(db, word[:5]) and card not in found(db, word[:5])  # prefixes: names only
    assert found(db, f"{word} base") == {tiny}
    assert found(db, f"ann/tiny-{word}") == {tiny}
    assert found(db, f"big {word}") == {camel}
    assert found(db, f"sentiment {word}") == {tiny}
    assert found(db, f"{word} nothing{word}") == set()


def test_front_matter_is_not_indexed_but_tags_are(db: Database) -> None:
    word = unique("fm")
    repo = add_repo(db, "ann/" + unique("r"), readme=f"---\nsecret: {word}\n---\nbody", tags=(f"tag-{word}",))
    assert found(db, word) == {repo}  # through the tag
    other = add_repo(db, "ann/" + unique("r"), readme=f"---\nsecret: {word}x\n---\nbody")
    assert other not in found(db, f"{word}x")


def test_reindex_replaces_the_document_and_rename_keeps_the_body(db: Database) -> None:
    old, new, body = unique("old"), unique("new"), unique("body")
    repo = add_repo(db, f"ann/{old}", readme=f"about {body}")
    with db.write() as session:
        search.index_name(session, repo, f"ben/{new}")
    assert found(db, old) == set()
    assert found(db, new) == {repo} and found(db, body) == {repo}
    with db.write() as session:
        search.index_card(session, repo, f"ben/{new}", "different text", [])
    assert found(db, body) == set() and found(db, new) == {repo}


def test_deleting_the_row_drops_the_document(db: Database) -> None:
    word = unique("del")
    repo = add_repo(db, f"ann/{word}")
    with db.write() as session:
        session.execute(delete(Repo).where(Repo.id == repo))
    assert found(db, word) == set()
    with db.read() as session:
        assert list(session.scalars(index_for(session.get_bind().dialect.name).candidates([word]))) == []


def test_operator_characters_are_harmless(db: Database) -> None:
    for query in ['"', "a OR b", "NEAR(x y)", "x:*", "!x & y | z", "'; DROP TABLE repos; --"]:
        found(db, query or "x")
