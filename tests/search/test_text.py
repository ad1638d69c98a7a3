"""Terms of names, cards and queries: the same on both engines because Haven computes them itself."""

from __future__ import annotations

from haven.search.postgres import ts_query
from haven.search.sqlite import fts_query
from haven.search.text import MAX_QUERY_TERMS, body_terms, name_terms, query_terms


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


def test_engine_queries_quote_terms_and_match_prefixes() -> None:
    assert fts_query(["bert", "a"]) == '"bert"* AND "a"'
    assert ts_query(["bert", "a"]) == "bert:* & a"
