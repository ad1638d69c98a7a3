"""Terms of names, cards and queries: the same on both engines because Haven computes them itself."""

from __future__ import annotations

from haven.search.postgres import ts_query
from haven.search.sqlite import fts_query
from haven.search.text import (
    MAX_PREFIX,
    MAX_QUERY_TERMS,
    PREFIX_MARK,
    body_terms,
    document_matches,
    name_terms,
    name_tokens,
    query_terms,
)


def test_names_split_on_separators_and_camel_case() -> None:
    assert set(name_terms("alice/tiny-bert-base")) == {"alice", "tiny", "bert", "base", "tinybertbase"}
    assert {"tiny", "bert", "base"} <= set(name_terms("alice/TinyBERTBase"))
    assert {"llama", "2", "7b", "gguf", "the", "bloke", "thebloke"} <= set(name_terms("TheBloke/Llama-2-7B-GGUF"))
    assert {"my", "model", "v2"} <= set(name_terms("org/my_model.v2"))


def test_card_terms_skip_front_matter_but_keep_tags() -> None:
    readme = "---\nlicense: mit\nwidget: secretword\n---\n# Sentiment classifier for Café reviews\n"
    terms = body_terms(readme, ["license:mit", "text-classification"])
    assert {"license", "mit", "text", "classification", "sentiment", "café", "reviews"} <= set(terms)
    assert "secretword" not in terms and "widget" not in terms


def test_card_terms_are_bounded() -> None:
    terms = body_terms(" ".join(f"w{i}" for i in range(100_000)), [])
    assert 0 < len(terms) <= 4000


def test_queries_drop_every_operator() -> None:
    assert query_terms('NEAR("Bert" OR x*) -y AND ^z:*') == ["near", "bert", "or", "x", "y", "and", "z"]
    assert query_terms("%_!&|'") == []
    assert len(query_terms(" ".join(f"t{i}" for i in range(50)))) == MAX_QUERY_TERMS


def test_engine_queries_look_up_name_prefixes_and_whole_words() -> None:
    assert fts_query(["bert", "a"]) == '("0pbert" OR "bert") AND ("a")'
    assert ts_query(["bert", "a"]) == "(0pbert | bert) & (a)"
    long = "abcdefghijklmnop"  # longer than the indexed prefixes: the engines' own prefix match
    assert fts_query([long]) == f'("{long}"*)' and ts_query([long]) == f"({long}:*)"


def test_names_index_their_prefixes_as_tokens() -> None:
    tokens = set(name_tokens("alice/tiny-bert"))
    assert {"alice", "tiny", "bert", "tinybert", "0pti", "0ptin", "0ptiny", "0pbe", "0ptinybe", "0ptinybert"} <= tokens
    assert "0pt" not in tokens and "0pa" not in tokens  # one-letter terms match whole words only
    assert all(len(t) <= len(PREFIX_MARK) + MAX_PREFIX for t in tokens if t.startswith(PREFIX_MARK))


def test_documents_match_name_prefixes_and_whole_card_words() -> None:
    document = " ".join(name_tokens("ann/tiny-bert")) + " sentiment reviews"
    assert document_matches(document, ["ber", "tin"]) and document_matches(document, ["sentiment"])
    assert not document_matches(document, ["senti"])  # card words match whole
    assert not document_matches(document, ["bert", "nothing"])
