"""OpenAI-compatible chat completions, plain and streamed, through InferenceClient.chat_completion."""

from __future__ import annotations

import json

from huggingface_hub import InferenceClient

from tests.conftest import Hub
from tests.inference.conftest import post

MESSAGES = [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hello ! how are you ?"}]


def test_chat_completion(ihub: Hub, models: dict[str, str]) -> None:
    c = InferenceClient(base_url=f"{ihub.url}/v1", api_key=ihub.tokens["alice"], timeout=120)
    out = c.chat_completion(MESSAGES, model=models["gpt"], max_tokens=8)
    choice = out.choices[0]
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    assert out.usage.completion_tokens <= 8 and out.usage.prompt_tokens > 0
    assert out.model == models["gpt"]

    chunks = list(c.chat_completion(MESSAGES, model=models["gpt"], max_tokens=8, stream=True))
    assert chunks[0].choices[0].delta.role == "assistant"
    streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert streamed == choice.message.content  # greedy decoding: the same text either way
    assert chunks[-1].choices[0].finish_reason == choice.finish_reason

    # model=<model URL>: the client appends /v1/chat/completions to it
    by_url = InferenceClient(model=f"{ihub.url}/models/{models['gpt']}", token=ihub.tokens["alice"])
    assert by_url.chat_completion(MESSAGES, max_tokens=8).choices[0].message.content == choice.message.content


def test_stream_usage_and_stop(ihub: Hub, models: dict[str, str]) -> None:
    body = {"model": models["gpt"], "messages": MESSAGES, "max_tokens": 6, "stream": True}
    body["stream_options"] = {"include_usage": True}
    r = post(ihub, "/v1/chat/completions", json=body)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    events = [line[6:] for line in r.text.splitlines() if line.startswith("data: ")]
    assert events[-1] == "[DONE]"
    usage = json.loads(events[-2])
    assert usage["choices"] == [] and usage["usage"]["completion_tokens"] <= 6
    full = post(ihub, "/v1/chat/completions", json={**body, "stream": False}).json()
    text = full["choices"][0]["message"]["content"]
    if len(text) > 2:
        stop = text[1:3]
        cut = post(ihub, "/v1/chat/completions", json={**body, "stream": False, "stop": [stop]}).json()
        assert cut["choices"][0]["message"]["content"] == text[: text.index(stop)]
        assert cut["choices"][0]["finish_reason"] == "stop"


def test_chat_refusals(ihub: Hub, models: dict[str, str]) -> None:
    r = post(ihub, "/v1/chat/completions", json={"model": models["sentiment"], "messages": MESSAGES})
    assert r.status_code == 400 and "conversational" in r.json()["error"]
    r = post(ihub, "/v1/chat/completions", json={"model": models["gpt"], "messages": "hi"})
    assert r.status_code == 400 and "messages" in r.json()["error"]
    r = post(ihub, "/v1/chat/completions", json={"messages": MESSAGES})
    assert r.status_code == 400 and "model" in r.json()["error"]
    r = post(ihub, "/v1/chat/completions", json={"model": models["gpt"], "messages": MESSAGES, "max_tokens": 10**6})
    assert r.status_code == 400 and "max_new_tokens" in r.json()["error"]
