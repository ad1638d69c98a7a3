"""Bad input, refused models, loading answers and worker crashes: clear 4xx/5xx, and the worker (or its
replacement) keeps answering."""

from __future__ import annotations

import os
import signal
import threading
import time

import httpx

from tests.conftest import Hub
from tests.inference.conftest import post


def _stats(hub: Hub) -> dict:  # type: ignore[type-arg]
    return httpx.get(f"{hub.url}/api/inference/stats").json()


def test_bad_inputs(ihub: Hub, models: dict[str, str]) -> None:
    ok = post(ihub, f"/models/{models['sentiment']}", json={"inputs": "i love it"})
    assert ok.status_code == 200
    pid = _stats(ihub)["workers"][0]["pid"]
    cases = [
        (models["sentiment"], {"content": b"{not json", "headers": {"content-type": "application/json"}}, 400, "JSON"),
        (models["sentiment"], {"json": {"text": "no inputs"}}, 400, "inputs"),
        (models["sentiment"], {"json": {"inputs": 42}}, 400, "string"),
        (models["sentiment"], {"json": {"inputs": ""}}, 400, "empty"),
        (models["sentiment"], {"json": {"inputs": ["x"] * 65}}, 400, "list"),
        (models["sentiment"], {"json": {"inputs": "x", "parameters": {"top_k": "3"}}}, 400, "top_k"),
        (models["qa"], {"json": {"inputs": "where ?"}}, 400, "question"),
        (models["zero-shot"], {"json": {"inputs": "i love it"}}, 400, "candidate_labels"),
        (models["fill-mask"], {"json": {"inputs": "no mask here"}}, 400, "[MASK]"),
        (models["fill-mask"], {"json": {"inputs": "[MASK] and [MASK]"}}, 400, "exactly one"),
        (models["vit"], {"content": b"not an image", "headers": {"content-type": "image/png"}}, 400, "image"),
        (models["sentiment"], {"json": {"inputs": "word " * 600}}, 413, "tokens"),
        (models["sentiment"], {"json": {"inputs": "x" * 300_000}}, 413, "larger"),
    ]
    for repo, kw, status, words in cases:
        r = post(ihub, f"/models/{repo}", **kw)
        assert r.status_code == status, (repo, kw, r.text)
        assert words in r.json()["error"], r.text
    # a batch with one bad input fails only that one
    mixed = post(ihub, f"/models/{models['fill-mask']}", json={"inputs": ["the [MASK] movie", "no mask"]})
    assert mixed.status_code == 400
    for path in ("pipeline/nonsense", "pipeline/fill-mask"):
        r = post(ihub, f"/models/{models['sentiment']}/{path}", json={"inputs": "x"})
        assert r.status_code == 400, r.text
    assert post(ihub, f"/models/{models['sentiment']}", json={"inputs": "i love it"}).json() == ok.json()
    assert _stats(ihub)["workers"][0]["pid"] == pid  # the same worker throughout


def test_refused_models(ihub: Hub, models: dict[str, str]) -> None:
    r = post(ihub, f"/models/{models['pickled']}", json={"inputs": "i love it"})
    assert (
        r.status_code == 422 and "pickle" in r.json()["error"] and "HAVEN_INFERENCE_ALLOW_PICKLE" in r.json()["error"]
    )
    r = post(ihub, f"/models/{models['remote-code']}", json={"inputs": "i love it"})
    assert r.status_code == 422 and "remote code" in r.json()["error"]


def test_loading_answer(ihub: Hub, models: dict[str, str], tmp_path) -> None:  # type: ignore[no-untyped-def]
    """A model not yet loaded: 503 with estimated_time (as the Hub answers) unless the caller waits."""
    from tests.inference.models import sentiment

    sentiment(tmp_path)
    (tmp_path / "README.md").write_text("---\npipeline_tag: text-classification\n---\nanother copy\n")
    api = ihub.api("alice")
    api.create_repo("alice/fresh-sentiment")
    api.upload_folder(repo_id="alice/fresh-sentiment", folder_path=str(tmp_path))
    r = httpx.post(
        f"{ihub.url}/models/alice/fresh-sentiment",
        json={"inputs": "i love it"},
        headers={"Authorization": f"Bearer {ihub.tokens['alice']}"},
    )
    assert r.status_code == 503, r.text
    assert r.json()["estimated_time"] > 0 and "loading" in r.json()["error"] and r.headers["retry-after"]
    waited = post(
        ihub,
        "/models/alice/fresh-sentiment",
        headers={},
        json={"inputs": "i love it", "options": {"wait_for_model": True}},
    )
    assert waited.status_code == 200


def test_worker_crash_recovery(ihub: Hub, models: dict[str, str]) -> None:
    assert post(ihub, f"/models/{models['sentiment']}", json={"inputs": "i love it"}).status_code == 200
    before = _stats(ihub)["workers"][0]
    os.kill(before["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _stats(ihub)["workers"][0]["pid"] == before["pid"] and time.monotonic() < deadline:
        time.sleep(0.05)
    r = post(ihub, f"/models/{models['sentiment']}", json={"inputs": "i love it"})
    assert r.status_code == 200, r.text
    after = _stats(ihub)["workers"][0]
    assert after["pid"] != before["pid"] and after["restarts"] == before["restarts"] + 1


def test_crash_during_a_request_is_a_clear_502(ihub: Hub, models: dict[str, str]) -> None:
    body = {"model": models["gpt"], "messages": [{"role": "user", "content": "hello"}], "max_tokens": 200}
    assert post(ihub, "/v1/chat/completions", json={**body, "max_tokens": 1}).status_code == 200  # loaded
    results: list[httpx.Response] = []
    # several long generations queue up on the one worker: one of them is running when it dies
    threads = [
        threading.Thread(target=lambda: results.append(post(ihub, "/v1/chat/completions", json=body))) for _ in range(6)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 10
    while _stats(ihub)["workers"][0]["running"] < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    os.kill(_stats(ihub)["workers"][0]["pid"], signal.SIGKILL)
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert 502 in codes, codes
    crashed = next(r for r in results if r.status_code == 502)
    assert "worker" in crashed.json()["error"] and "restarted" in crashed.json()["error"]
    assert post(ihub, "/v1/chat/completions", json={**body, "max_tokens": 2}).status_code == 200
