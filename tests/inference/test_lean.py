"""Sentence embeddings without encode(): a sentence-transformers model whose stack `lean.plan` reproduces
(Transformer -> Pooling -> optional Normalize) is answered by the lean path, with its encoder traced, any
other stack by encode(), and the embeddings are encode()'s either way, one text or many of mixed lengths
(cut into length groups). An encoder whose trace would not give its own outputs runs untraced."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from transformers.modeling_outputs import BaseModelOutput

from haven.inference import lean, runners
from tests.inference.models import sentence_transformer

TEXTS = [
    "the movie was good",
    "alice lives in paris and bob lives in london and i love this city",
    "hello",
    "what is the capital of france ? paris is the capital of france " * 6,
]


def embed(path: Path, texts: list[str] | str, **params: object) -> np.ndarray:
    """What the worker answers a feature-extraction request with, for the model at `path`."""
    loaded = runners.load(str(path), "feature-extraction", True, False)
    return np.array(runners.run_batch(loaded, "feature-extraction", [(texts, params)], 512)[0])


def expected(path: Path, texts: list[str], normalize: bool = False) -> np.ndarray:
    """encode() of each text alone: what a single request of it is compared with."""
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(path), device="cpu")
    return np.stack([st.encode(t, normalize_embeddings=normalize) for t in texts])


def plan_of(path: Path):  # type: ignore[no-untyped-def]
    return runners.load(str(path), "feature-extraction", True, False).lean


def test_minilm_takes_the_lean_path_with_encodes_embeddings(minilm_dir: Path) -> None:
    plan = plan_of(minilm_dir)
    assert plan is not None and (plan.pooling, plan.normalize) == ("mean", True)
    assert plan.traced is not None
    want = expected(minilm_dir, TEXTS)
    np.testing.assert_allclose(embed(minilm_dir, TEXTS[0]), want[0], atol=1e-5)
    np.testing.assert_allclose(embed(minilm_dir, TEXTS), want, atol=1e-5)  # two length groups


@pytest.mark.parametrize("pooling", ["mean", "cls", "max"])
@pytest.mark.parametrize("normalize", [False, True])
def test_each_pooling_mode_matches_encode(tmp_path: Path, pooling: str, normalize: bool) -> None:
    sentence_transformer(tmp_path, pooling, normalize)
    model = tmp_path / "model"
    plan = plan_of(model)
    assert plan is not None and (plan.pooling, plan.normalize) == (pooling, normalize)
    assert plan.traced is not None
    want = expected(model, TEXTS)
    for text, row in zip(TEXTS, want, strict=True):
        np.testing.assert_allclose(embed(model, text), row, atol=1e-5)
    np.testing.assert_allclose(embed(model, TEXTS), want, atol=1e-5)


def test_the_normalize_parameter_applies_on_the_lean_path(tmp_path: Path) -> None:
    sentence_transformer(tmp_path, "max")
    model = tmp_path / "model"
    got = embed(model, TEXTS, normalize=True)
    np.testing.assert_allclose(got, expected(model, TEXTS, normalize=True), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1, atol=1e-5)


@pytest.mark.parametrize("side", ["right", "left"])
def test_a_length_group_is_cut_from_one_tokenisation_as_if_tokenised_alone(minilm_dir: Path, side: str) -> None:
    plan = plan_of(minilm_dir)
    plan.tokenizer.padding_side = side
    together = plan.tokenize(TEXTS)
    assert plan.lengths(together) == [len(plan.tokenize([t])["input_ids"][0]) for t in TEXTS]
    for group in ([2, 0], [1], [0, 1, 2], list(range(len(TEXTS)))):
        alone = plan.tokenize([TEXTS[i] for i in group])
        cut = plan.rows(together, group)
        assert cut.keys() == alone.keys()
        for key in alone:
            assert torch.equal(cut[key], alone[key]), key


@pytest.mark.parametrize("stack", ["weightedmean pooling", "a dense layer", "a default prompt"])
def test_other_stacks_fall_back_to_encode(tmp_path: Path, stack: str) -> None:
    import json

    sentence_transformer(tmp_path, "weightedmean" if "weightedmean" in stack else "mean", dense="dense" in stack)
    model = tmp_path / "model"
    if "prompt" in stack:
        config = model / "config_sentence_transformers.json"
        data = json.loads(config.read_text())
        data.update(prompts={"query": "what is ", "document": ""}, default_prompt_name="query")
        config.write_text(json.dumps(data))
    assert plan_of(model) is None
    np.testing.assert_allclose(embed(model, TEXTS), expected(model, TEXTS), atol=1e-5)


class ShapeBranching(torch.nn.Module):
    """An encoder with a Python branch on the input's length: a trace keeps the branch it saw, whatever the
    length it is later given, so its outputs differ from the module's own for other lengths."""

    def __init__(self) -> None:
        super().__init__()
        self.embeddings = torch.nn.Embedding(30522, 8)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, return_dict=True):  # type: ignore[no-untyped-def]
        hidden = self.embeddings(input_ids)
        if input_ids.shape[1] > 8:
            hidden = hidden * 2
        return BaseModelOutput(last_hidden_state=hidden)


def test_an_encoder_its_trace_does_not_reproduce_runs_untraced(minilm_dir: Path) -> None:
    tokenizer = plan_of(minilm_dir).tokenizer
    untraced = lean.Plan(tokenizer, ShapeBranching().eval(), None, "mean", False)
    assert lean._with_trace(untraced, 32) is untraced  # answered by the module itself, not by a trace
