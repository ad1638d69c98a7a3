"""Turning names, cards and queries into the same lower-case terms, whichever engine indexes them.

Both engines get text that is already split into terms, so a query finds the same repositories on
SQLite and on PostgreSQL: names are cut at `-`, `_`, `/`, `.` and camel-case humps ("alice/TinyBERTBase"
gives alice, tiny, bert, base and tinybertbase), and every query term matches as a word prefix.
"""

from __future__ import annotations

import re

MAX_BODY_CHARS = 50_000  # of a README: enough for any real card's prose, bounded for absurd ones
MAX_TERMS = 4_000  # distinct terms kept per document
MAX_QUERY_TERMS = 8
MAX_TERM_CHARS = 64

_WORD = re.compile(r"[^\W_]+")
_FRONT_MATTER = re.compile(r"\A\ufeff?---[ \t]*\r?\n.*?^---[ \t]*$", re.S | re.M)
# Camel-case humps: "TinyBERTBase" -> Tiny, BERT, Base; "gpt2Large" -> gpt2, Large.
_HUMP = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+\d*|[A-Z]+\d*|\d+[a-z]*")


def words(text: str) -> list[str]:
    """Alphanumeric runs of `text`, in order (separators: everything else, including `_`)."""
    return _WORD.findall(text)


def name_terms(full_id: str) -> list[str]:
    """Terms of a repository id: each word, its camel-case parts, and the whole name joined."""
    out: dict[str, None] = {}
    for word in words(full_id):
        out.setdefault(word.lower(), None)
        for part in _HUMP.findall(word):
            out.setdefault(part.lower(), None)
    name = full_id.rsplit("/", 1)[-1]
    joined = "".join(words(name)).lower()
    if joined:
        out.setdefault(joined, None)
    return [t[:MAX_TERM_CHARS] for t in out]


def strip_front_matter(readme: str) -> str:
    """The README without its YAML metadata block (its tags are indexed from the card's tag list)."""
    m = _FRONT_MATTER.match(readme)
    return readme[m.end() :] if m else readme


def body_terms(readme: str, tags: list[str]) -> list[str]:
    """Distinct terms of a card: its tags (`license:mit` gives license and mit) and its README text."""
    out: dict[str, None] = {}
    for text in (*tags, strip_front_matter(readme[:MAX_BODY_CHARS])):
        for word in words(text):
            out.setdefault(word.lower()[:MAX_TERM_CHARS], None)
            if len(out) >= MAX_TERMS:
                return list(out)
    return list(out)


def query_terms(query: str) -> list[str]:
    """The terms a search string asks for; operators and quotes of either engine are just separators."""
    out: dict[str, None] = {}
    for word in words(query):
        out.setdefault(word.lower()[:MAX_TERM_CHARS], None)
    return list(out)[:MAX_QUERY_TERMS]


def document_matches(document: str, terms: list[str]) -> bool:
    """Whether a stored document (space-separated terms) has every query term as a word prefix (one-letter
    terms as whole words): what the engines' prefix queries answer, checked in Python for a few rows."""
    padded = f" {document} "
    return all((f" {t} " if len(t) == 1 else f" {t}") in padded for t in terms)
