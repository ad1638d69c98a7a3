"""Routing, permissions (the download rule), rate limits and the stats endpoint."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Hub
from tests.inference.conftest import post, start_hub


def test_routes_reach_the_inference_api(ihub: Hub) -> None:
    """POST /models/... and /v1/... are answered by the Inference API, not the web UI's catch-all routes."""
    r = post(ihub, "/models/nobody/nothing", json={"inputs": "x"})
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    r = post(
        ihub, "/v1/chat/completions", json={"model": "nobody/nothing", "messages": [{"role": "user", "content": "x"}]}
    )
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    r = post(ihub, "/v1/embeddings", json={"model": "nobody/nothing", "input": "x"})
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"


@pytest.mark.parametrize(("user", "status"), [("alice", 200), ("carol", 200), ("dave", 200), ("bob", 404), (None, 404)])
def test_private_model_access(ihub: Hub, models: dict[str, str], user: str | None, status: int) -> None:
    """acme/private-sentiment: its members (owner alice, reader carol, writer dave) may run it; a stranger
    and anonymous callers get the same 404 as for a model that does not exist."""
    r = post(ihub, f"/models/{models['private-sentiment']}", user=user, json={"inputs": "i love it"})
    assert r.status_code == status, r.text
    if status == 404:
        assert r.headers["x-error-code"] == "RepoNotFound"
    else:
        assert {x["label"] for x in r.json()[0]} == {"POSITIVE", "NEGATIVE"}


def test_revision(ihub: Hub, models: dict[str, str]) -> None:
    sha = ihub.api("alice").model_info(models["sentiment"]).sha
    r = post(ihub, f"/models/{models['sentiment']}/revision/{sha}", json={"inputs": "i love it"})
    assert r.status_code == 200
    r = post(ihub, f"/models/{models['sentiment']}?revision=nope", json={"inputs": "i love it"})
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"


def test_rate_limit_per_token() -> None:
    """A server allowing 5 requests a minute per token: root's sixth is refused (429 + Retry-After), before
    any lookup; alice's own bucket is untouched. No model is needed: the limit comes first."""
    hub = start_hub(HAVEN_INFERENCE_RATE_LIMIT="5")
    try:
        codes = [post(hub, "/models/nobody/nothing", user="root", json={"inputs": "x"}).status_code for _ in range(6)]
        assert codes == [404] * 5 + [429]
        limited = post(hub, "/v1/embeddings", user="root", json={"model": "nobody/nothing", "input": "x"})
        assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
        assert post(hub, "/models/nobody/nothing", user="alice", json={"inputs": "x"}).status_code == 404
    finally:
        hub.server.stop()


def test_stats(ihub: Hub, models: dict[str, str]) -> None:
    post(ihub, f"/models/{models['sentiment']}", json={"inputs": "i love it"})
    stats = httpx.get(f"{ihub.url}/api/inference/stats").json()
    assert stats["started"] and stats["workers"][0]["pid"]
    model = stats["models"][models["sentiment"]]
    assert model["requests"] >= 1 and model["latency_ms"]["p50"] > 0
    # a private model's numbers (and name) only for those who may run it
    post(ihub, f"/models/{models['private-sentiment']}", json={"inputs": "i love it"})
    mine = httpx.get(f"{ihub.url}/api/inference/stats", headers={"Authorization": f"Bearer {ihub.tokens['carol']}"})
    assert models["private-sentiment"] in mine.json()["models"]
    strangers = httpx.get(f"{ihub.url}/api/inference/stats", headers={"Authorization": f"Bearer {ihub.tokens['bob']}"})
    assert models["private-sentiment"] not in strangers.json()["models"]
    assert models["private-sentiment"] not in httpx.get(f"{ihub.url}/api/inference/stats").json()["models"]
