"""Many clients, one model: each gets its own answer (equal to the one-at-a-time answer), batched."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np

from tests.conftest import Hub
from tests.inference.conftest import post


def test_concurrent_embeddings_are_each_right(ihub: Hub, models: dict[str, str]) -> None:
    texts = [f"sentence number {i} about {'the weather ' * (i % 5)}topic {i * 7}" for i in range(48)]
    path = f"/models/{models['minilm']}"
    alone = [np.array(post(ihub, path, json={"inputs": t}).json()) for t in texts[:6]]
    before = httpx.get(f"{ihub.url}/api/inference/stats").json()["batching"]
    with ThreadPoolExecutor(32) as pool:
        together = list(pool.map(lambda t: np.array(post(ihub, path, json={"inputs": t}).json()), texts))
    for a, b in zip(alone, together[:6], strict=True):
        np.testing.assert_allclose(a, b, atol=1e-5)
    # each answer belongs to its own text: no two texts got the same vector
    assert len({v.tobytes() for v in together}) == len(texts)
    after = httpx.get(f"{ihub.url}/api/inference/stats").json()["batching"]
    batches = after["batches"] - before["batches"]
    assert batches < len(texts), "concurrent requests shared forward passes"


def test_concurrent_mixed_classification(ihub: Hub, models: dict[str, str]) -> None:
    path = f"/models/{models['sentiment']}"
    texts = ["i love this movie", "i hate this film", "the book was good", "terrible food"] * 6
    alone = {t: post(ihub, path, json={"inputs": t}).json() for t in set(texts)}
    with ThreadPoolExecutor(16) as pool:
        got = list(pool.map(lambda t: post(ihub, path, json={"inputs": t}).json(), texts))
    for t, g in zip(texts, got, strict=True):
        assert [x["label"] for x in g[0]] == [x["label"] for x in alone[t][0]]
        np.testing.assert_allclose([x["score"] for x in g[0]], [x["score"] for x in alone[t][0]], atol=1e-5)
