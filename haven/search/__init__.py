"""Full-text search over repository names and cards, on the database's own engine.

One small interface (`SearchIndex`) with two implementations: SQLite FTS5 (`sqlite.py`) and PostgreSQL
tsvector + GIN (`postgres.py`). Nothing outside this package writes dialect-specific search SQL: the
migration creates the schema through `index_for(dialect).create_schema`, the repository services keep
the index in sync through `index_name` / `index_card`, and listings filter with `matches` (a per-row
check, for walking a sort index) or `candidates` (the set of matching ids, for rare terms), or, sorted by
downloads, read `ranked` matches in that order straight from the index (haven.search.rank).
"""

from __future__ import annotations

from typing import Protocol

from sqlalchemy import ColumnElement, Connection, Select
from sqlalchemy.orm import Session

from haven.git.store import Entry, GitRepo
from haven.search.rank import Ranked, Stretch
from haven.search.text import body_terms, name_tokens, query_terms

__all__ = ["SearchIndex", "index_card", "index_for", "index_name", "query_terms", "readme_text", "remove"]


class SearchIndex(Protocol):
    """A full-text index of repositories: one document per repository id, in two parts (name and body)."""

    # Whether a listing that holds a query's ids should check a walk's rows against them in Python rather
    # than have the database run the query again inside the walk: yes where that query is dear (PostgreSQL
    # visits the table for every GIN candidate), no where reading the doclists again costs less than sending
    # the walked rows to Python (FTS5). Measured at 1M repositories ('mistral gguf'), bench/README.md.
    held_ids_walk: bool
    # How many documents a walk in rank order (`ranked`) may read before the listing takes its rarer-filter
    # plans: matches on SQLite (each checked by the database against the other filters), documents read
    # on PostgreSQL (about 1 us each, matching or not). Measured at 1M repositories, bench/README.md.
    ranked_walk: int

    def create_schema(self, conn: Connection) -> None:
        """Create the index's tables, triggers and indexes (called by the migration)."""

    def drop_schema(self, conn: Connection) -> None: ...

    def rank_schema(self, conn: Connection) -> None:
        """Give an index created before migration 0019 what `ranked` needs (nothing to do on newer ones)."""

    def unrank_schema(self, conn: Connection) -> None: ...

    def put(self, session: Session, repo_id: int, name: list[str], body: list[str] | None) -> None:
        """Index (or re-index) a repository; `body=None` keeps the body already indexed."""

    def remove(self, session: Session, repo_id: int) -> None: ...

    def matches(self, terms: list[str]) -> ColumnElement[bool]:
        """True for rows of `repos` whose document satisfies every term (a name word by prefix, a card word
        whole: haven.search.text.alternatives), checked per row;
        no terms match every row."""

    def candidates(self, terms: list[str]) -> Select[tuple[int]]:
        """The ids of every repository whose document satisfies every term."""

    def filter_ids(self, session: Session, terms: list[str], ids: list[int]) -> set[int]:
        """Which of these repository ids match (for a few hundred rows walked in a sort order)."""

    def ranked(self, session: Session, stretch: Stretch) -> Ranked | None:
        """The repositories a stretch asks for in descending (downloads, id) order, whatever their visibility.
        None when the index cannot give this order (haven.search.rank): the caller plans otherwise."""


def index_for(dialect: str) -> SearchIndex:
    if dialect == "postgresql":
        from haven.search.postgres import PostgresIndex

        return PostgresIndex()
    from haven.search.sqlite import SqliteIndex

    return SqliteIndex()


def _index(session: Session) -> SearchIndex:
    return index_for(session.get_bind().dialect.name)


def index_name(session: Session, repo_id: int, full_id: str) -> None:
    """After a repository is created, renamed or moved: index its (new) name, keeping its card text."""
    _index(session).put(session, repo_id, name_tokens(full_id), None)


def index_card(session: Session, repo_id: int, full_id: str, readme: str, tags: list[str]) -> None:
    """After the README on main changed: index the name, the card's tags and the README text."""
    _index(session).put(session, repo_id, name_tokens(full_id), body_terms(readme, tags))


def remove(session: Session, repo_id: int) -> None:
    """Drop a repository's document (deleting the row does this too, by trigger or foreign key)."""
    _index(session).remove(session, repo_id)


def readme_text(git: GitRepo, entry: Entry | None) -> str:
    """The text of a README tree entry ("" when there is none, or it is a directory or an LFS pointer)."""
    if entry is None or entry.type != "file" or entry.pointer is not None:
        return ""
    return git.read_blob(entry.oid).decode("utf-8", "replace")
