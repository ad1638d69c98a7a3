"""Back-pressure, timeouts and cancellation, on a server of their own: a queue of one request and a
timeout of a fraction of a second."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import httpx

from tests.conftest import Hub
from tests.inference.conftest import post, start_hub
from tests.inference.models import causal_lm
from tests.support import wait_for

TIMEOUT = 0.4
LONG = 2000  # tokens: several seconds of generation even on a fast machine


def never_stop_early(path: Path) -> None:
    """A random model soon emits its end token; this repo's generation config makes it write on to the limit."""
    config = json.loads((path / "generation_config.json").read_text())
    (path / "generation_config.json").write_text(json.dumps({**config, "min_new_tokens": LONG}))


def refused_beside(hub: Hub, long: dict, short: dict) -> tuple[httpx.Response, httpx.Response]:
    """The answers to `short`, sent while `long` holds the queue's one place, and to `long`."""
    results: list[httpx.Response] = []
    t = threading.Thread(target=lambda: results.append(post(hub, "/models/alice/gpt", json=long)))
    t.start()
    wait_for(
        lambda: httpx.get(f"{hub.url}/api/inference/stats").json()["queue"]["active"] >= 1, what="a queued request"
    )
    busy = post(hub, "/models/alice/gpt", json=short)
    t.join()
    return busy, results[0]


def test_queue_full_timeout_and_cancellation(tmp_path: Path) -> None:
    hub = start_hub(
        HAVEN_INFERENCE_QUEUE_SIZE="1",
        HAVEN_INFERENCE_TIMEOUT=str(TIMEOUT),
        HAVEN_INFERENCE_THREADS="1",
        HAVEN_INFERENCE_MAX_NEW_TOKENS=str(LONG),
    )
    try:
        causal_lm(tmp_path, positions=LONG + 16, width=512, layers=8)  # generates far longer than the timeout
        never_stop_early(tmp_path)
        hub.api("alice").create_repo("alice/gpt")
        hub.api("alice").upload_folder(repo_id="alice/gpt", folder_path=str(tmp_path))
        short = {"inputs": "the movie", "parameters": {"max_new_tokens": 1}}
        auth = {"Authorization": f"Bearer {hub.tokens['alice']}"}
        deadline = time.monotonic() + 60
        while True:  # the first calls answer 503 "loading" (they do not wait): poll until loaded
            r = httpx.post(f"{hub.url}/models/alice/gpt", json=short, headers=auth, timeout=30)
            if r.status_code == 200 or time.monotonic() > deadline:
                break
            assert r.status_code == 503 and "estimated_time" in r.json()
            time.sleep(0.2)
        assert r.status_code == 200, r.text

        long = {"inputs": "the movie", "parameters": {"max_new_tokens": LONG}}
        for _ in range(3):  # a loaded machine may time the first out before the second arrives: try again
            busy, timed_out = refused_beside(hub, long, short)
            if busy.status_code == 503:
                break
        assert busy.status_code == 503 and busy.headers["retry-after"] == "1", busy.text
        assert timed_out.status_code == 504 and "did not finish" in timed_out.json()["error"], timed_out.text[:300]
        # the abandoned generation was cancelled in the worker: a short request gets through in time again
        ok = [post(hub, "/models/alice/gpt", json=short).status_code for _ in range(3)]
        assert 200 in ok, ok

        # a client that hangs up mid-stream frees its place and stops the generation in the worker
        chat = {
            "model": "alice/gpt",
            "messages": [{"role": "user", "content": "hi"}],
            "max_tokens": LONG,
            "stream": True,
        }
        with httpx.stream("POST", f"{hub.url}/v1/chat/completions", json=chat, headers=auth, timeout=30) as r:
            assert r.status_code == 200
            next(r.iter_lines())
        ok = []
        for _ in range(5):
            ok.append(post(hub, "/models/alice/gpt", json=short).status_code)
            if ok[-1] == 200:
                break
            time.sleep(0.2)
        assert ok[-1] == 200, ok
    finally:
        hub.server.stop()
