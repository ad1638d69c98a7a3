"""SQLite FTS5: a virtual table `repo_search(name, body)` whose rowid is the repository id."""

from __future__ import annotations

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    column,
    exists,
    literal_column,
    select,
    table,
    text,
    true,
)
from sqlalchemy.orm import Session

from haven.repos.models import Repo
from haven.search.text import alternatives, document_matches

_FTS = table("repo_search", column("rowid"), column("name"), column("body"))
# Terms arrive already split and lower-cased (haven.search.text), so the tokenizer only splits on spaces
# and keeps diacritics, as PostgreSQL's `simple` configuration does. No positions are stored (detail=none):
# queries are sets of tokens, never phrases. Name prefixes are tokens of their own (haven.search.text).
_SCHEMA = [
    "CREATE VIRTUAL TABLE repo_search USING fts5(name, body, "
    "tokenize='unicode61 remove_diacritics 0', detail=none, columnsize=0)",
    # Rows deleted directly or by an account's cascade take their document with them.
    "CREATE TRIGGER repo_search_delete AFTER DELETE ON repos BEGIN DELETE FROM repo_search WHERE rowid = old.id; END",
]


def fts_query(terms: list[str]) -> str:
    """`("0pbert" OR "bert") AND ("a")`: each term's alternatives, quoted so that nothing in a term is read
    as an FTS5 operator; a term too long for the prefix tokens is a prefix query (`"longerthantwelve"*`)."""
    groups = []
    for term in terms:
        options, prefix = alternatives(term)
        groups.append("(" + " OR ".join(f'"{o}"*' if prefix else f'"{o}"' for o in options) + ")")
    return " AND ".join(groups)


class SqliteIndex:
    held_ids_walk = False  # see SearchIndex

    def create_schema(self, conn: Connection) -> None:
        for stmt in _SCHEMA:
            conn.exec_driver_sql(stmt)

    def drop_schema(self, conn: Connection) -> None:
        conn.exec_driver_sql("DROP TRIGGER IF EXISTS repo_search_delete")
        conn.exec_driver_sql("DROP TABLE IF EXISTS repo_search")

    def put(self, session: Session, repo_id: int, name: list[str], body: list[str] | None) -> None:
        names = " ".join(name)
        if body is None:
            done = session.execute(
                text("UPDATE repo_search SET name = :name WHERE rowid = :id"), {"name": names, "id": repo_id}
            )
            if done.rowcount:  # type: ignore[attr-defined]
                return
        session.execute(text("DELETE FROM repo_search WHERE rowid = :id"), {"id": repo_id})
        session.execute(
            text("INSERT INTO repo_search(rowid, name, body) VALUES (:id, :name, :body)"),
            {"id": repo_id, "name": names, "body": " ".join(body or [])},
        )

    def remove(self, session: Session, repo_id: int) -> None:
        session.execute(text("DELETE FROM repo_search WHERE rowid = :id"), {"id": repo_id})

    def matches(self, terms: list[str]) -> ColumnElement[bool]:
        if not terms:
            return true()
        return exists().where(_match(terms), _FTS.c.rowid == Repo.id)

    def filter_ids(self, session: Session, terms: list[str], ids: list[int]) -> set[int]:
        # A MATCH restricted to some rowids still reads every matching doclist entry, so for a few hundred
        # rows it is much faster to read their stored tokens (rowid lookups) and check them here.
        if not terms:
            return set(ids)
        marks = ",".join(str(int(i)) for i in ids)
        rows = session.execute(text(f"SELECT rowid, name || ' ' || body FROM repo_search WHERE rowid IN ({marks})"))
        return {row[0] for row in rows if document_matches(row[1], terms)}

    def candidates(self, terms: list[str]) -> Select[tuple[int]]:
        if not terms:
            return select(Repo.id)
        return select(_FTS.c.rowid).where(_match(terms))


def _match(terms: list[str]) -> ColumnElement[bool]:
    return literal_column("repo_search").op("MATCH")(fts_query(terms))
