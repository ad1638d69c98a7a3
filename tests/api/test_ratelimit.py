"""Rate limits per caller on the api, resolve and pages buckets (HAVEN_RATE_LIMIT_*): RateLimit headers on
every limited answer, 429 with Retry-After once spent, huggingface_hub's own 429 message, one count shared
by every worker process. The counters live in a file, not the database: one backend (SQLite) is enough."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download
from huggingface_hub.errors import HfHubHTTPError

from tests.conftest import Hub, _seed
from tests.support import Server, tempdir

Start = Callable[..., Hub]


@pytest.fixture
def limited() -> Iterator[Start]:
    """start(**HAVEN_* settings) -> a hub of its own (the shared cast), stopped after the test."""
    started: list[Server] = []

    def start(**env: str) -> Hub:
        server = Server(tempdir("haven-ratelimit-") / "data", extra_env=env)
        server.data_dir.mkdir(parents=True)
        tokens, read_tokens = _seed(server)
        started.append(server)  # stopped after the test even if it never became ready
        server.start(timeout=120)  # two workers on a busy machine take a while
        return Hub(server, "sqlite", tokens, read_tokens)

    yield start
    for server in started:
        server.stop()


def get(hub: Hub, path: str, token: str | None = None, **kw: object) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.get(hub.url + path, headers=headers, **kw)  # type: ignore[arg-type]


def test_the_api_bucket_counts_per_token_and_the_client_explains_the_429(limited: Start, tmp_path: Path) -> None:
    hub = limited(HAVEN_RATE_LIMIT_API="3", HAVEN_RATE_LIMIT_API_WINDOW="300")
    hub.api("bob").create_repo("bob/m")  # bob's first api request
    hub.api("bob").upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="bob/m")
    first = get(hub, "/api/models/bob/m", hub.tokens["alice"])
    assert first.status_code == 200
    assert re.fullmatch(r'"api";r=2;t=(\d+)', first.headers["ratelimit"])
    assert 290 <= int(first.headers["ratelimit"].rsplit("=", 1)[1]) <= 300
    assert first.headers["ratelimit-policy"] == '"api";q=3;w=300'
    for _ in range(2):
        assert get(hub, "/api/models/bob/m", hub.tokens["alice"]).status_code == 200
    with pytest.raises(HfHubHTTPError) as refused:
        HfApi(endpoint=hub.url, token=hub.tokens["alice"]).model_info("bob/m")
    assert refused.value.response.status_code == 429
    assert 1 <= int(refused.value.response.headers["retry-after"]) <= 300
    message = str(refused.value)
    assert "429 Too Many Requests: you have reached your 'api' rate limit." in message
    assert re.search(r"Retry after \d+ seconds \(0/3 requests remaining in current 300s window\)", message)
    # other callers have buckets of their own; alice's downloads draw on another bucket (off here)
    assert get(hub, "/api/models/bob/m", hub.tokens["carol"]).headers["ratelimit"].startswith('"api";r=2;')
    assert get(hub, "/api/models/bob/m").status_code == 200  # anonymous: 127.0.0.1's bucket
    path = hf_hub_download("bob/m", "config.json", endpoint=hub.url, token=hub.tokens["alice"], cache_dir=tmp_path)
    assert Path(path).read_bytes() == b"{}"


def test_downloads_and_pages_have_buckets_of_their_own(limited: Start) -> None:
    hub = limited(HAVEN_RATE_LIMIT_RESOLVE="3", HAVEN_RATE_LIMIT_PAGES="2", HAVEN_RATE_LIMIT_PAGES_WINDOW="60")
    hub.api("alice").create_repo("alice/m")
    hub.api("alice").upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id="alice/m")
    heads = [httpx.head(f"{hub.url}/alice/m/resolve/main/config.json") for _ in range(4)]
    assert [r.status_code for r in heads] == [200, 200, 200, 429]
    assert [r.headers["ratelimit"].split(";")[1] for r in heads] == ["r=2", "r=1", "r=0", "r=0"]
    assert heads[0].headers["ratelimit-policy"] == '"resolve";q=3;w=300'
    assert heads[3].headers["x-error-code"] == "RateLimited" and int(heads[3].headers["retry-after"]) >= 1
    assert get(hub, "/api/models/alice/m").status_code == 200 and "ratelimit" not in get(hub, "/api/models").headers
    pages = [get(hub, "/").status_code, get(hub, "/alice/m").status_code, get(hub, "/models").status_code]
    assert pages == [200, 200, 429]
    assert all(get(hub, "/static/haven.css").status_code == 200 for _ in range(3))  # assets are not pages


def test_made_up_credentials_are_charged_to_the_address(limited: Start) -> None:
    """A new invented token per request must not buy a fresh bucket each time: the 401s count against the
    address, and once it has spent its bucket that way, invented tokens are refused before any lookup."""
    hub = limited(HAVEN_RATE_LIMIT_API="3", HAVEN_RATE_LIMIT_PAGES="2")
    codes = [get(hub, "/api/whoami-v2", f"hf_{secrets.token_hex(16)}").status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    # so are session cookies naming no session, on the web
    pages = [get(hub, "/", cookies={"haven_session": secrets.token_urlsafe(32)}).status_code for _ in range(4)]
    assert pages == [200, 200, 429, 429]
    # a credential counts only where it is checked: the API ignores session cookies, web pages ignore
    # tokens, so there such requests are the address's (whose own buckets are still untouched)
    api = [get(hub, "/api/models", cookies={"haven_session": secrets.token_urlsafe(32)}).status_code for _ in range(4)]
    assert api == [200, 200, 200, 429]
    health = get(hub, "/api/health")  # the address's api bucket is spent, yet load balancers' probes pass
    assert health.status_code == 200 and "ratelimit" not in health.headers
    web = [get(hub, "/models", f"hf_{secrets.token_hex(16)}").status_code for _ in range(3)]
    assert web == [200, 200, 429]


def test_windows_reset(limited: Start) -> None:
    hub = limited(HAVEN_RATE_LIMIT_API="2", HAVEN_RATE_LIMIT_API_WINDOW="2")
    codes = [get(hub, "/api/models", hub.tokens["bob"]) for _ in range(3)]
    assert [r.status_code for r in codes] == [200, 200, 429]
    time.sleep(int(codes[2].headers["retry-after"]) + 0.1)
    assert get(hub, "/api/models", hub.tokens["bob"]).status_code == 200


def test_worker_processes_share_one_count(limited: Start) -> None:
    hub = limited(HAVEN_WORKERS="2", HAVEN_RATE_LIMIT_API="10")
    codes = []
    for _ in range(30):
        with httpx.Client() as fresh:  # a new connection each time: the kernel spreads them over both workers
            codes.append(
                fresh.get(
                    hub.url + "/api/models", headers={"Authorization": f"Bearer {hub.tokens['dave']}"}
                ).status_code
            )
    assert codes == [200] * 10 + [429] * 20


def test_limits_are_off_by_default(hub: Hub) -> None:
    r = get(hub, "/api/models")
    assert r.status_code == 200 and "ratelimit" not in r.headers and "ratelimit-policy" not in r.headers
