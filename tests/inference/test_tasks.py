"""Every task through huggingface_hub's InferenceClient against tiny models pushed to Haven; the real
all-MiniLM-L6-v2 gives the same embeddings as sentence-transformers run locally on the same files."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from tests.conftest import Hub
from tests.inference.conftest import client, post


def test_text_classification(ihub: Hub, models: dict[str, str]) -> None:
    out = client(ihub, models["sentiment"]).text_classification("i love this movie")
    assert {o.label for o in out} == {"POSITIVE", "NEGATIVE"}
    assert out[0].score >= out[1].score
    assert abs(sum(o.score for o in out) - 1) < 1e-4
    top = client(ihub, models["sentiment"]).text_classification("i love this movie", top_k=1)
    assert len(top) == 1 and top[0].label == out[0].label
    both = post(ihub, f"/models/{models['sentiment']}", json={"inputs": ["i love it", "i hate it"]}).json()
    assert len(both) == 2 and all(len(x) == 2 for x in both)


def test_token_classification(ihub: Hub, models: dict[str, str]) -> None:
    text = "alice lives in paris"
    out = client(ihub, models["ner"]).token_classification(text)
    assert out, "the random model labels something"
    for entity in out:
        assert entity.entity_group in {"PER", "LOC"}
        assert text[entity.start : entity.end] == entity.word
        assert 0 < entity.score <= 1
    raw = client(ihub, models["ner"]).token_classification(text, aggregation_strategy="none")
    assert all(e["entity"] != "O" for e in raw)


def test_fill_mask(ihub: Hub, models: dict[str, str]) -> None:
    out = client(ihub, models["fill-mask"]).fill_mask("paris is the [MASK] of france")
    assert len(out) == 5
    assert [o.score for o in out] == sorted((o.score for o in out), reverse=True)
    for o in out:
        assert o.sequence == f"paris is the {o.token_str} of france"
    targeted = client(ihub, models["fill-mask"]).fill_mask("paris is the [MASK] of france", targets=["capital", "city"])
    assert {o.token_str for o in targeted} == {"capital", "city"}


def test_question_answering(ihub: Hub, models: dict[str, str]) -> None:
    context = "alice lives in paris and bob lives in london"
    out = client(ihub, models["qa"]).question_answering(question="where does alice live ?", context=context)
    assert context[out.start : out.end] == out.answer and out.answer
    assert 0 < out.score <= 1
    several = client(ihub, models["qa"]).question_answering(question="who ?", context=context, top_k=3)
    assert isinstance(several, list) and len(several) == 3


def test_zero_shot_classification(ihub: Hub, models: dict[str, str]) -> None:
    labels = ["sport", "politics", "science"]
    out = client(ihub, models["zero-shot"]).zero_shot_classification("i love this movie", candidate_labels=labels)
    assert sorted(o.label for o in out) == sorted(labels)
    assert abs(sum(o.score for o in out) - 1) < 1e-4
    multi = client(ihub, models["zero-shot"]).zero_shot_classification(
        "i love this movie", candidate_labels=labels, multi_label=True
    )
    assert all(0 < o.score < 1 for o in multi)


def test_summarization_and_translation(ihub: Hub, models: dict[str, str]) -> None:
    text = "alice lives in paris and bob lives in london"
    summary = client(ihub, models["t5"]).summarization(text, generate_parameters={"max_new_tokens": 8})
    assert isinstance(summary.summary_text, str)
    # the same seq2seq model answers translation through the task path
    url = f"{ihub.url}/models/{models['t5']}/pipeline/translation"
    from huggingface_hub import InferenceClient

    tr = InferenceClient(model=url, token=ihub.tokens["alice"], headers={"X-Wait-For-Model": "1"})
    assert isinstance(tr.translation(text).translation_text, str)


def test_text_generation(ihub: Hub, models: dict[str, str]) -> None:
    c = client(ihub, models["gpt"])
    text = c.text_generation("the movie was", max_new_tokens=6)
    assert isinstance(text, str)
    full = c.text_generation("the movie was", max_new_tokens=6, return_full_text=True)
    assert full == "the movie was" + text  # greedy: the same continuation
    details = c.text_generation("the movie was", max_new_tokens=6, details=True)
    assert details.generated_text == text and details.details.generated_tokens <= 6
    pieces = list(c.text_generation("the movie was", max_new_tokens=6, stream=True))
    assert "".join(pieces) == text


def test_feature_extraction_matches_sentence_transformers(ihub: Hub, models: dict[str, str], minilm_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    texts = ["Haven serves models.", "A completely different sentence about the weather."]
    local = SentenceTransformer(str(minilm_dir), device="cpu").encode(texts)
    c = client(ihub, models["minilm"])
    for text, expected in zip(texts, local, strict=True):
        got = c.feature_extraction(text)
        assert got.shape == (384,)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    batch = c.feature_extraction(texts)
    np.testing.assert_allclose(batch, local, atol=1e-5)
    norm = c.feature_extraction(texts[0], normalize=True)
    assert abs(float(np.linalg.norm(norm)) - 1) < 1e-5


def test_sentence_similarity(ihub: Hub, models: dict[str, str], minilm_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    sentences = ["the weather is sunny today", "i love this movie"]
    got = client(ihub, models["minilm"]).sentence_similarity("the weather is nice", other_sentences=sentences)
    st = SentenceTransformer(str(minilm_dir), device="cpu")
    emb = st.encode(["the weather is nice", *sentences], normalize_embeddings=True)
    np.testing.assert_allclose(got, emb[1:] @ emb[0], atol=1e-5)
    assert got[0] > got[1]


def test_image_classification(ihub: Hub, models: dict[str, str]) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (48, 40), (200, 30, 30)).save(buf, "PNG")
    out = client(ihub, models["vit"]).image_classification(buf.getvalue())
    assert {o.label for o in out} == {"cat", "dog", "bird"}
    assert abs(sum(o.score for o in out) - 1) < 1e-4
    top = client(ihub, models["vit"]).image_classification(buf.getvalue(), top_k=1)  # JSON + base64 body
    assert [o.label for o in top] == [out[0].label]


def test_openai_embeddings(ihub: Hub, models: dict[str, str], minilm_dir: Path) -> None:
    from sentence_transformers import SentenceTransformer

    texts = ["first text", "second text"]
    r = post(ihub, "/v1/embeddings", json={"model": models["minilm"], "input": texts})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["object"] == "list" and [d["index"] for d in body["data"]] == [0, 1]
    local = SentenceTransformer(str(minilm_dir), device="cpu").encode(texts)
    np.testing.assert_allclose([d["embedding"] for d in body["data"]], local, atol=1e-5)
