"""Rank keys: one integer per repository that sorts as the search listing's default order.

A search without `sort` lists by downloads (last 30 days), then id. A full-text index whose document keys
follow that order keeps every posting list in rank order, so the first page of a query is the first
entries of its posting lists: the engine stops after `limit` matches instead of listing every match and
sorting them (the "impact-ordered" layout of search engines, here exact rather than approximate).

key = type code * 2**61 + (2**31 - 1 - downloads) * 2**30 + (2**30 - 1 - id): within one repository type,
ascending keys are descending (downloads, id), the listing's order, and each type is one range of keys.
Ascending, because SQLite 3.40's FTS5 loses matches of `(a OR b) AND (c OR d)` read in descending rowid
order (227 of 6,593 for `mistral gguf` at 1M repositories); an ascending listing by downloads is not
served from keys. The key changes with the downloads, so the database moves a document
when a row's downloads or type change (a trigger: no code path can forget it). A row that does not fit
(an id of 2**30 or more, downloads of 2**31 or more) gets the key -id: `unranked` keys, which send its
listings back to the plans that do not rely on keys (haven.repos.listing).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.orm import Session


@dataclass
class Stretch:
    """What a walk in rank order asks the index for: the next repositories of a type matching every term,
    strictly after the cursor `after` (downloads, id), at most `limit` of them, reading at most `window`
    documents where the engine reads non-matching ones too."""

    terms: list[str]
    repo_type: str
    after: tuple[int, int] | None
    limit: int
    window: int


@dataclass
class Ranked:
    """One stretch of a walk in rank order: the matches found, in order, as (id, downloads); where the walk
    stopped, as a cursor (downloads, id) to go on from (None: the index has no more); how many documents
    it read (SQLite reads matches only, PostgreSQL a window of documents)."""

    rows: list[tuple[int, int]]
    end: tuple[int, int] | None
    examined: int


ID_BITS = 30
DOWNLOAD_BITS = 31
TYPE_SHIFT = ID_BITS + DOWNLOAD_BITS  # 61: four type codes fit below 2**63
TYPE_CODES = {"model": 0, "dataset": 1, "space": 2}  # any other type: 3
ID_LIMIT = 1 << ID_BITS
DOWNLOAD_LIMIT = 1 << DOWNLOAD_BITS


def type_code(repo_type: str) -> int:
    return TYPE_CODES.get(repo_type, 3)


def fits(downloads: int, repo_id: int) -> bool:
    return 0 <= repo_id < ID_LIMIT and 0 <= downloads < DOWNLOAD_LIMIT


def rank_key(repo_type: str, downloads: int, repo_id: int) -> int:
    """The key of a repository (what the database's key_sql computes from the row)."""
    if not fits(downloads, repo_id):
        return -repo_id
    return (type_code(repo_type) << TYPE_SHIFT) + ((DOWNLOAD_LIMIT - 1 - downloads) << ID_BITS) + ID_LIMIT - 1 - repo_id


def decode(key: int) -> tuple[int, int]:
    """(id, downloads) of a key that fits."""
    return ID_LIMIT - 1 - key % ID_LIMIT, DOWNLOAD_LIMIT - 1 - (key >> ID_BITS) % DOWNLOAD_LIMIT


def key_sql(row: str = "") -> str:
    """rank_key as SQL over a row's columns (`row` is a prefix such as "new." or "r."), for both engines."""
    codes = " ".join(f"WHEN '{t}' THEN {c << TYPE_SHIFT}" for t, c in TYPE_CODES.items())
    return (
        f"(CASE WHEN {row}id >= 0 AND {row}id < {ID_LIMIT} AND {row}downloads >= 0 AND {row}downloads < {DOWNLOAD_LIMIT}"
        f" THEN (CASE {row}type {codes} ELSE {3 << TYPE_SHIFT} END)"
        f" + ({DOWNLOAD_LIMIT - 1} - CAST({row}downloads AS BIGINT)) * {ID_LIMIT} + {ID_LIMIT - 1} - {row}id"
        f" ELSE -{row}id END)"
    )


def id_sql(key: str) -> str:
    """The repository id of a key column, as SQL."""
    return f"(CASE WHEN {key} < 0 THEN -{key} ELSE {ID_LIMIT - 1} - {key} % {ID_LIMIT} END)"


def key_range(repo_type: str, after: tuple[int, int] | None) -> tuple[int, int] | None:
    """The keys [low, high] of one type's repositories strictly after a cursor (downloads, id) in the
    listing's order; None for a cursor without a key (the caller uses a plan without keys)."""
    base = type_code(repo_type) << TYPE_SHIFT
    low, high = base, base + (1 << TYPE_SHIFT) - 1
    if after is None:
        return low, high
    downloads, repo_id = after
    if isinstance(downloads, float) and downloads.is_integer():
        downloads = int(downloads)
    if not isinstance(downloads, int) or not fits(downloads, repo_id):
        return None
    return rank_key(repo_type, downloads, repo_id) + 1, high


def span(session: Session, stretch: Stretch, unranked: str | None) -> tuple[int, int] | None:
    """The keys a stretch covers, or None when keys cannot answer it: no terms, a cursor without a key, or
    a row without one (`unranked`: the engine's query for a negative key; None: the caller's walk checks)."""
    keys = key_range(stretch.repo_type, stretch.after)
    if keys is None or not stretch.terms:
        return None
    if unranked is not None and session.execute(text(unranked)).first() is not None:
        return None
    return keys
