"""Tag signatures (haven.repos.tagsig) only narrow a walk: a repository whose other tags set every bit of a
filter's tag is still checked exactly, whichever plan walks, on both databases."""

from __future__ import annotations

import itertools

import pytest

from haven.db import Database
from haven.repos import listing
from haven.repos.listing import Query, list_repos
from haven.repos.tagsig import signature, tag_bits
from tests.search.conftest import ANON, add_repo, unique


def test_a_signature_has_every_bit_of_each_tag_and_fits_a_signed_bigint() -> None:
    tags = [unique("t") for _ in range(40)]
    sig = signature(tags)
    assert -(2**63) <= sig < 2**63
    assert all(sig & b == b for b in (signature([t]) for t in tags))
    assert signature([]) == 0


def _decoy(tag: str) -> str:
    """A tag that sets exactly the bits `tag` sets (about one tag in 2,000 does)."""
    return next(d for i in itertools.count() if tag_bits(d := f"decoy{i}-{tag}") == tag_bits(tag))


@pytest.mark.parametrize(
    "plan",
    [
        {},  # the first walk fills the page
        {"SORT_CAP": 0, "SORT_COST": 10**9},  # the sort index walked in spans
        {"SORT_CAP": 10**9},  # the narrowest tag's set sorted
    ],
    ids=["walk", "spans", "sorted"],
)
def test_a_repository_whose_other_tags_cover_a_filter_s_bits_is_not_listed(
    db: Database, monkeypatch: pytest.MonkeyPatch, plan: dict
) -> None:
    for name, value in plan.items():
        monkeypatch.setattr(listing, name, value)
    if plan:  # straight to the plans that start from the narrowest tag
        monkeypatch.setattr(listing, "_too_rare", lambda *args: True)
    wanted, other = unique("w"), unique("o")
    word = unique("sig")
    ids = {}
    for i, tags in enumerate([(wanted, other), (_decoy(wanted), other), (wanted,), (_decoy(wanted), _decoy(other))]):
        ids[i] = add_repo(db, f"ann/{word}-{i}", tags=tags, likes=10 - i)
    assert every_page(db, Query(repo_type="model", tags=[wanted, other], sort="likes", limit=1)) == [ids[0]]
    assert every_page(db, Query(repo_type="model", tags=[wanted], sort="likes", limit=1)) == [ids[0], ids[2]]


def every_page(db: Database, q: Query) -> list[int]:
    out: list[int] = []
    while True:
        with db.read() as session:
            rows, cursor = list_repos(session, ANON, q)
        out += [r.id for r in rows]
        if cursor is None:
            return out
        q = Query(**{**q.__dict__, "cursor": cursor})
