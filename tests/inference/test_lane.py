"""The classic routes are served by haven.api.inference_lane, past FastAPI's router: every Haven middleware
still applies (request id, rate-limit headers, metrics by route template) and errors look as they did."""

from __future__ import annotations

import httpx
import pytest

from haven.api import inference
from haven.api.inference_lane import classic_target
from tests.conftest import Hub
from tests.inference.conftest import post, start_hub
from tests.ops.test_metrics import scrape, value


@pytest.mark.parametrize(
    ("path", "target"),
    [
        ("/models/a/b", (inference.CLASSIC, "a/b", "main", None)),
        ("/models/a/b/revision/v1", (inference.AT_REVISION, "a/b", "v1", None)),
        ("/models/a/b/revision/refs%2Fpr%2F1", (inference.AT_REVISION, "a/b", "refs%2Fpr%2F1", None)),
        ("/models/a/b/pipeline/feature-extraction", (inference.WITH_TASK, "a/b", "main", "feature-extraction")),
        ("/pipeline/fill-mask/a/b", (inference.PIPELINE, "a/b", "main", "fill-mask")),
        ("/models/a/b/", None),  # FastAPI's trailing-slash handling applies
        ("/models/a", None),
        ("/models//b", None),
        ("/models/a/b/v1/chat/completions", None),  # the chat route, FastAPI's
        ("/models/a/b/other/x", None),
        ("/pipeline/fill-mask/a", None),
        ("/datasets/a/b", None),
    ],
)
def test_paths_the_lane_answers(path: str, target: tuple[str, str, str, str | None] | None) -> None:
    """Exactly the paths the four classic routes match, with the parameters as FastAPI would pass them."""
    assert classic_target(path) == target


def test_every_classic_route_form_answers(ihub: Hub, models: dict[str, str]) -> None:
    repo = models["sentiment"]
    sha = ihub.api("alice").model_info(repo).sha
    for path in (f"/models/{repo}", f"/models/{repo}/revision/{sha}", f"/pipeline/text-classification/{repo}"):
        r = post(ihub, path, json={"inputs": "i love it"})
        assert r.status_code == 200, (path, r.text)
        assert {x["label"] for x in r.json()[0]} == {"POSITIVE", "NEGATIVE"}
        assert r.headers["x-request-id"]
    r = post(ihub, f"/models/{repo}/pipeline/translation", json={"inputs": "i love it"})
    assert r.status_code == 400 and "translation" in r.json()["error"]


def test_errors_keep_their_shape(ihub: Hub, models: dict[str, str]) -> None:
    """Refusals come from the app's own exception handlers: status, JSON body and X-Error-* headers."""
    r = post(ihub, f"/models/{models['private-sentiment']}", user="bob", json={"inputs": "x"})
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound" and r.json()["error"]
    r = post(ihub, f"/models/{models['sentiment']}", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.headers["x-error-message"] == "The body is not valid JSON"
    r = post(ihub, f"/models/{models['sentiment']}", json={"inputs": "x" * 300_000})
    assert r.status_code == 413 and "larger" in r.json()["error"]


def test_metrics_name_the_route_template(ihub: Hub, models: dict[str, str]) -> None:
    before = value(scrape(ihub), "haven_http_requests_total", route=inference.CLASSIC, method="POST", status="200")
    assert post(ihub, f"/models/{models['sentiment']}", json={"inputs": "i love it"}).status_code == 200
    after = value(scrape(ihub), "haven_http_requests_total", route=inference.CLASSIC, method="POST", status="200")
    assert after == before + 1


def test_rate_limit_headers_and_refusal() -> None:
    """The rate-limit middleware still wraps the lane: standing headers on answers, 429 once spent."""
    hub = start_hub(HAVEN_INFERENCE_RATE_LIMIT="2")
    try:
        first = post(hub, "/models/nobody/nothing", user="root", json={"inputs": "x"})
        assert first.status_code == 404 and first.headers["ratelimit"].startswith('"inference";r=1')
        post(hub, "/models/nobody/nothing", user="root", json={"inputs": "x"})
        refused = post(hub, "/models/nobody/nothing", user="root", json={"inputs": "x"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
        assert httpx.get(f"{hub.url}/api/health").status_code == 200
    finally:
        hub.server.stop()
