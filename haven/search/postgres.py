"""PostgreSQL full text: a table `repo_search` with a generated tsvector and a GIN index on it."""

from __future__ import annotations

from sqlalchemy import ColumnElement, Connection, Select, column, exists, func, select, table, text, true
from sqlalchemy.dialects.postgresql import TSVECTOR, insert
from sqlalchemy.orm import Session

from haven.repos.models import Repo
from haven.search.text import alternatives

_T = table("repo_search", column("repo_id"), column("name"), column("body"), column("document", TSVECTOR))
# `simple`: lower-cased words, no stemming and no stop words, like the FTS5 side; the terms arrive
# already split (haven.search.text), so the document is the same set of words on either engine.
_SCHEMA = [
    "CREATE TABLE repo_search ("
    " repo_id INTEGER PRIMARY KEY REFERENCES repos(id) ON DELETE CASCADE,"
    " name TEXT NOT NULL DEFAULT '', body TEXT NOT NULL DEFAULT '',"
    " document TSVECTOR GENERATED ALWAYS AS (to_tsvector('simple'::regconfig, name || ' ' || body)) STORED)",
    "CREATE INDEX ix_repo_search_document ON repo_search USING GIN (document)",
]


def ts_query(terms: list[str]) -> str:
    """`(0pbert | bert) & (a)` (tokens are alphanumeric: nothing in them is a tsquery operator); a term too
    long for the prefix tokens is a prefix query (`longerthantwelve:*`)."""
    groups = []
    for term in terms:
        options, prefix = alternatives(term)
        groups.append("(" + " | ".join(f"{o}:*" if prefix else o for o in options) + ")")
    return " & ".join(groups)


class PostgresIndex:
    held_ids_walk = True  # see SearchIndex

    def create_schema(self, conn: Connection) -> None:
        for stmt in _SCHEMA:
            conn.exec_driver_sql(stmt)

    def drop_schema(self, conn: Connection) -> None:
        conn.exec_driver_sql("DROP TABLE IF EXISTS repo_search")

    def rank_schema(self, conn: Connection) -> None:
        pass

    def unrank_schema(self, conn: Connection) -> None:
        pass

    def ranked(
        self,
        session: Session,
        terms: list[str],
        repo_type: str,
        descending: bool,
        after: tuple[int, int] | None,
        limit: int,
    ) -> list[tuple[int, int]] | None:
        return None

    def put(self, session: Session, repo_id: int, name: list[str], body: list[str] | None) -> None:
        values = {"repo_id": repo_id, "name": " ".join(name)}
        if body is not None:
            values["body"] = " ".join(body)
        stmt = insert(_T).values(values)
        update = {"name": stmt.excluded.name} | ({"body": stmt.excluded.body} if body is not None else {})
        session.execute(stmt.on_conflict_do_update(index_elements=["repo_id"], set_=update))

    def remove(self, session: Session, repo_id: int) -> None:
        session.execute(text("DELETE FROM repo_search WHERE repo_id = :id"), {"id": repo_id})

    def matches(self, terms: list[str]) -> ColumnElement[bool]:
        if not terms:
            return true()
        return exists().where(_T.c.repo_id == Repo.id, _match(terms))

    def filter_ids(self, session: Session, terms: list[str], ids: list[int]) -> set[int]:
        if not terms:
            return set(ids)
        return set(session.scalars(select(_T.c.repo_id).where(_T.c.repo_id.in_(ids), _match(terms))))

    def candidates(self, terms: list[str]) -> Select[tuple[int]]:
        if not terms:
            return select(Repo.id)
        return select(_T.c.repo_id).where(_match(terms))


def _match(terms: list[str]) -> ColumnElement[bool]:
    return _T.c.document.op("@@")(func.to_tsquery(text("'simple'::regconfig"), ts_query(terms)))
