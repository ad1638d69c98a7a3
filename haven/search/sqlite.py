"""SQLite FTS5: a virtual table `repo_search(name, body)` whose rowid is the repository's rank key.

The rowid is haven.search.rank's key (type, downloads, id), so FTS5's posting lists are in the order of a
search listing: `ORDER BY rowid LIMIT n` over a match reads the first entries of the query's lists and
stops (migration 0019 renumbered the rowids from repository ids). Read in ascending order only: see rank. Triggers on `repos` move a document
when its key changes and drop it with its row.
"""

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
from haven.search.rank import Ranked, Stretch, decode, id_sql, key_sql, span
from haven.search.text import alternatives, document_matches

_FTS = table("repo_search", column("rowid"), column("name"), column("body"))
# Terms arrive already split and lower-cased (haven.search.text), so the tokenizer only splits on spaces
# and keeps diacritics, as PostgreSQL's `simple` configuration does. No positions are stored (detail=none):
# queries are sets of tokens, never phrases. Name prefixes are tokens of their own (haven.search.text).
_TABLE = (
    "CREATE VIRTUAL TABLE {name} USING fts5(name, body, "
    "tokenize='unicode61 remove_diacritics 0', detail=none, columnsize=0)"
)
# Before migration 0019 the rowid was the repository id, and only deletions had a trigger.
_BY_ID_TRIGGER = (
    "CREATE TRIGGER repo_search_delete AFTER DELETE ON repos BEGIN DELETE FROM repo_search WHERE rowid = old.id; END"
)
_KEY = key_sql("repos.")
_TRIGGERS = [
    # Rows deleted directly or by an account's cascade take their document with them.
    "CREATE TRIGGER repo_search_delete AFTER DELETE ON repos BEGIN "
    f"DELETE FROM repo_search WHERE rowid = {key_sql('old.')}; END",
    # A document follows its row's rank: a flush of download counts, a daily recount, a change of type.
    f"CREATE TRIGGER repo_search_rekey AFTER UPDATE OF downloads, type, id ON repos WHEN {key_sql('old.')} != "
    f"{key_sql('new.')} BEGIN UPDATE repo_search SET rowid = {key_sql('new.')} WHERE rowid = {key_sql('old.')}; END",
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
    ranked_walk = 2_000  # see SearchIndex
    held_ids_walk = False  # see SearchIndex

    def create_schema(self, conn: Connection) -> None:
        conn.exec_driver_sql(_TABLE.format(name="repo_search"))
        for stmt in _TRIGGERS:
            conn.exec_driver_sql(stmt)

    def drop_schema(self, conn: Connection) -> None:
        for trigger in ("repo_search_delete", "repo_search_rekey"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {trigger}")
        conn.exec_driver_sql("DROP TABLE IF EXISTS repo_search")

    def rank_schema(self, conn: Connection) -> None:
        """Renumber the documents from repository ids to rank keys (migration 0019; a database created since
        has them from the start)."""
        ranked = "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = 'repo_search_rekey'"
        if conn.exec_driver_sql(ranked).first() is None:
            _renumber(conn, "s.rowid = r.id", key_sql("r."))
            for stmt in _TRIGGERS:
                conn.exec_driver_sql(stmt)

    def unrank_schema(self, conn: Connection) -> None:
        _renumber(conn, f"s.rowid = {key_sql('r.')}", "r.id")
        conn.exec_driver_sql(_BY_ID_TRIGGER)

    def put(self, session: Session, repo_id: int, name: list[str], body: list[str] | None) -> None:
        names = " ".join(name)
        key = f"(SELECT {_KEY} FROM repos WHERE id = :id)"
        if body is None:
            done = session.execute(
                text(f"UPDATE repo_search SET name = :name WHERE rowid = {key}"), {"name": names, "id": repo_id}
            )
            if done.rowcount:  # type: ignore[attr-defined]
                return
        session.execute(text(f"DELETE FROM repo_search WHERE rowid = {key}"), {"id": repo_id})
        session.execute(
            text(f"INSERT INTO repo_search(rowid, name, body) SELECT {_KEY}, :name, :body FROM repos WHERE id = :id"),
            {"id": repo_id, "name": names, "body": " ".join(body or [])},
        )

    def remove(self, session: Session, repo_id: int) -> None:
        session.execute(
            text(f"DELETE FROM repo_search WHERE rowid = (SELECT {_KEY} FROM repos WHERE id = :id)"), {"id": repo_id}
        )

    def matches(self, terms: list[str]) -> ColumnElement[bool]:
        if not terms:
            return true()
        return exists().where(_match(terms), _FTS.c.rowid == literal_column(_KEY))

    def filter_ids(self, session: Session, terms: list[str], ids: list[int]) -> set[int]:
        # A MATCH restricted to some rowids still reads every matching doclist entry, so for a few hundred
        # rows it is much faster to read their stored tokens (rowid lookups) and check them here.
        if not terms:
            return set(ids)
        marks = ",".join(str(int(i)) for i in ids)
        rows = session.execute(
            text(
                f"SELECT r.id, s.name || ' ' || s.body FROM repos r JOIN repo_search s ON s.rowid = {key_sql('r.')} "
                f"WHERE r.id IN ({marks})"
            )
        )
        return {row[0] for row in rows if document_matches(row[1], terms)}

    def candidates(self, terms: list[str]) -> Select[tuple[int]]:
        if not terms:
            return select(Repo.id)
        return select(literal_column(id_sql("rowid")).label("id")).select_from(_FTS).where(_match(terms))

    def ranked(self, session: Session, stretch: Stretch) -> Ranked | None:
        keys = span(session, stretch, _UNRANKED)
        if keys is None:
            return None
        keys = session.scalars(
            text(
                "SELECT rowid FROM repo_search WHERE repo_search MATCH :q AND rowid BETWEEN :low AND :high "
                "ORDER BY rowid LIMIT :n"
            ),
            {"q": fts_query(stretch.terms), "low": keys[0], "high": keys[1], "n": stretch.limit},
        )
        rows = [decode(k) for k in keys]
        end = (rows[-1][1], rows[-1][0]) if len(rows) == stretch.limit else None
        return Ranked(rows, end, len(rows))


_UNRANKED = "SELECT rowid FROM repo_search WHERE rowid < 0 LIMIT 1"  # a row without a key: see haven.search.rank


def _renumber(conn: Connection, join: str, key: str) -> None:
    """Rebuild the index with new rowids (FTS5 keeps a posting list's entries in rowid order)."""
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS repo_search_delete")
    conn.exec_driver_sql("DROP TRIGGER IF EXISTS repo_search_rekey")
    conn.exec_driver_sql("ALTER TABLE repo_search RENAME TO repo_search_old")
    conn.exec_driver_sql(_TABLE.format(name="repo_search"))
    conn.exec_driver_sql(
        f"INSERT INTO repo_search(rowid, name, body) SELECT {key}, s.name, s.body "
        f"FROM repo_search_old s JOIN repos r ON {join}"
    )
    conn.exec_driver_sql("DROP TABLE repo_search_old")


def _match(terms: list[str]) -> ColumnElement[bool]:
    return literal_column("repo_search").op("MATCH")(fts_query(terms))
