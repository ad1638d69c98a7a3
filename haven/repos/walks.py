"""How a listing walks a sort index on each database engine (haven.repos.listing): the few places where the
two planners need the same SQL written differently. The full-text side has its own adapter (haven.search)."""

from __future__ import annotations

from typing import Any, Protocol

from sqlalchemy import ColumnElement, Integer, Select, any_, exists, literal, true
from sqlalchemy.dialects.postgresql import ARRAY


class Walks(Protocol):
    # Whether a walk of the sort index in spans is one statement, a subquery limited to the span with the
    # filters checked outside it (haven.repos.listing._span_walk): yes where the planner keeps the subquery's
    # order and stops it at the page's last match (PostgreSQL: 16.4 -> 11.7 ms for `ko` + `license:mit` by
    # likes at 1M repositories, the span's end no longer read by an OFFSET scan of 4.9 ms); no where it sorts
    # the subquery's output, reading the whole span (SQLite 3.40: 15 -> 21 ms), and where the OFFSET scan
    # costs about 1 ms.
    span_walk: bool

    def member(self, key: Any, ids: Any) -> ColumnElement[bool]:
        """Whether `key` is one of `ids` (a subquery), checked per row of a walk in sort order: `key + 0` keeps
        the database on the sort index rather than starting from the set; PostgreSQL needs `IS TRUE` besides,
        or it turns the check into a join (probing an index per row walked), which SQLite pays for (15.0 ms
        instead of 12.5 for the 19,600 rows walked for `ko` + `license:mit` at 1M repositories)."""

    def probe(self, rows: Select[Any]) -> ColumnElement[bool]:
        """Whether `rows` (a correlated select) has a row, checked per row of a walk on the rows that reach it:
        PostgreSQL would turn an EXISTS into a join or a hashed set that reads all its rows (a set of `ko`'s
        11,917 ids at 1M repositories, 1.6 ms, where the walk probes 54), so it gets a scalar subquery, which
        it never hashes; SQLite runs an EXISTS as written."""

    def one_of(self, key: Any, ids: list[int]) -> ColumnElement[bool]:
        """Whether `key` is one of `ids`, a list held in Python. PostgreSQL gets the list as one array
        parameter: the statement reads the same whatever the list's length, so neither SQLAlchemy nor psycopg
        writes it anew (with an `IN` of the 305 ids of `kalomi` at 1M repositories, a sixth of the listing's
        profile was spent rendering and converting one placeholder per id). SQLite binds one parameter per id."""


class SqliteWalks:
    span_walk = False  # see Walks

    def member(self, key: Any, ids: Any) -> ColumnElement[bool]:
        return (key + 0).in_(ids)

    def probe(self, rows: Select[Any]) -> ColumnElement[bool]:
        return exists(rows)

    def one_of(self, key: Any, ids: list[int]) -> ColumnElement[bool]:
        return key.in_(ids)


class PostgresWalks:
    span_walk = True  # see Walks

    def member(self, key: Any, ids: Any) -> ColumnElement[bool]:
        return (key + 0).in_(ids).is_(true())

    def probe(self, rows: Select[Any]) -> ColumnElement[bool]:
        return rows.with_only_columns(true()).limit(1).scalar_subquery().is_(true())

    def one_of(self, key: Any, ids: list[int]) -> ColumnElement[bool]:
        return key == any_(literal(ids, ARRAY(Integer)))


def walks_for(dialect: str) -> Walks:
    return PostgresWalks() if dialect == "postgresql" else SqliteWalks()
