"""Turning names, cards and queries into the same lower-case terms, whichever engine indexes them.

Both engines get text that is already split into terms, so a query finds the same repositories on
SQLite and on PostgreSQL: names are cut at `-`, `_`, `/`, `.` and camel-case humps ("alice/TinyBERTBase"
gives alice, tiny, bert, base and tinybertbase). A query term matches a word of the name by prefix and
a word of the card (its text and tags) whole.

Name prefixes are indexed as tokens of their own ("bert" also gives 0pbe, 0pber, 0pbert), so that every
query term is an exact token lookup: both engines answer a prefix query by merging the lists of every
word with that prefix, which at a million repositories cost 10-20x an exact lookup (`llama* AND chat*`
180 ms against 10 ms). Terms longer than MAX_PREFIX fall back to the engines' prefix match.
"""

from __future__ import annotations

import re

MAX_BODY_CHARS = 50_000  # of a README: enough for any real card's prose, bounded for absurd ones
MAX_TERMS = 4_000  # distinct terms kept per document
MAX_QUERY_TERMS = 8
MAX_TERM_CHARS = 64
MAX_PREFIX = 12  # name-word prefixes up to this length are indexed as tokens
PREFIX_MARK = "0p"  # starts every prefix token (a query "bert" would also match a word spelt "0pbert")

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


def name_tokens(full_id: str) -> list[str]:
    """What a name indexes: its terms, and the prefixes (2 to MAX_PREFIX letters) of each as marked tokens."""
    terms = name_terms(full_id)
    out = dict.fromkeys(terms)
    for term in terms:
        for k in range(2, min(len(term), MAX_PREFIX) + 1):
            out.setdefault(PREFIX_MARK + term[:k], None)
    return list(out)


def alternatives(term: str) -> tuple[list[str], bool]:
    """The tokens any one of which satisfies a query term, and whether they are prefixes (long terms) or
    exact tokens: a name-word prefix token or the whole word (one letter: the whole word only)."""
    if len(term) == 1:
        return [term], False
    if len(term) > MAX_PREFIX:
        return [term], True
    return [PREFIX_MARK + term, term], False


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
    """Whether a stored document (space-separated tokens) satisfies every query term, as the engines'
    queries built from `alternatives` answer: checked in Python for a few hundred rows at a time."""
    padded = f" {document} "
    for term in terms:
        options, prefix = alternatives(term)
        if prefix:
            if f" {term}" not in padded:
                return False
        elif not any(f" {option} " in padded for option in options):
            return False
    return True
