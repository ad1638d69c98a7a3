"""How a batch of texts is cut into padded forward passes: alike lengths share one pass, a few long texts
do not make every short one pay for their padding, and every answer stays what the text alone gives."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from haven.inference.runners import SPLIT_COST_TOKENS, length_groups
from tests.conftest import Hub
from tests.inference.conftest import post


def test_alike_lengths_share_one_pass() -> None:
    lengths = [9, 12, 10, 11, 10, 9, 12, 10] * 4  # the benchmark's short sentences: 9 to 12 tokens
    assert length_groups(lengths) == [sorted(range(32), key=lengths.__getitem__)]


def test_a_few_long_texts_run_apart_from_many_short_ones() -> None:
    lengths = [10] * 28 + [200] * 4
    groups = length_groups(lengths)
    assert [sorted(lengths[i] for i in g) for g in groups] == [[10] * 28, [200] * 4]


def test_a_cut_is_made_only_when_the_padding_it_saves_outweighs_a_pass() -> None:
    saves = SPLIT_COST_TOKENS + 10  # 10 short texts each padded by this / 10 tokens more than it needs
    step = -(-saves // 10)
    assert len(length_groups([10] * 10 + [10 + step])) == 2
    assert len(length_groups([10] * 10 + [11])) == 1


def test_every_index_is_in_exactly_one_group() -> None:
    lengths = [3, 50, 7, 7, 120, 4, 50, 300, 9, 8, 120, 5]
    groups = length_groups(lengths)
    assert sorted(i for g in groups for i in g) == list(range(len(lengths)))
    for g in groups:  # sorted by length within and across groups
        assert [lengths[i] for i in g] == sorted(lengths[i] for i in g)
    assert length_groups([]) == [] and length_groups([5]) == [[0]]


def test_mixed_lengths_batched_give_each_text_its_own_embedding(
    ihub: Hub, models: dict[str, str], minilm_dir: Path
) -> None:
    from sentence_transformers import SentenceTransformer

    long = "the weather in paris is nice today and models are served by haven " * 12
    texts = [f"short sentence {i}" if i % 4 else f"{long} number {i}" for i in range(32)]
    local = SentenceTransformer(str(minilm_dir), device="cpu")
    expected = [local.encode(t) for t in texts]  # each alone, as a single request would run
    path = f"/models/{models['minilm']}"
    with ThreadPoolExecutor(32) as pool:
        got = list(pool.map(lambda t: np.array(post(ihub, path, json={"inputs": t}).json()), texts))
    for g, e in zip(got, expected, strict=True):
        np.testing.assert_allclose(g, e, atol=1e-5)
    # one request holding all of them: one batch, cut by length
    together = np.array(post(ihub, path, json={"inputs": texts}).json())
    np.testing.assert_allclose(together, np.stack(expected), atol=1e-5)
