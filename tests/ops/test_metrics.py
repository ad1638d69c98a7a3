"""/metrics speaks the Prometheus text format and sums every worker process's samples, whichever one answers."""

from __future__ import annotations

import re
import uuid

import httpx
from huggingface_hub import HfApi

from tests.conftest import Hub

ROUTE = "/api/{repo_type}/{namespace}/{name}"


def scrape(hub: Hub) -> dict[str, float]:
    """Each sample line of /metrics: `name{labels}` -> value (fresh connection, so any worker may answer)."""
    r = httpx.get(f"{hub.url}/metrics", timeout=30)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain; version=")
    samples = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def value(samples: dict[str, float], name: str, **labels: str) -> float:
    """The sum of the samples of `name` whose labels include `labels`."""
    total = 0.0
    for key, v in samples.items():
        metric, _, rest = key.partition("{")
        found = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', rest))
        if metric == name and all(found.get(k) == want for k, want in labels.items()):
            total += v
    return total


def test_requests_from_every_worker_process_are_counted_once(two_workers: Hub) -> None:
    hub = two_workers
    repo_id = f"alice/metrics-{uuid.uuid4().hex[:8]}"
    hub.api().create_repo(repo_id)
    before = value(scrape(hub), "haven_http_requests_total", route=ROUTE, method="GET", status="200")
    for _ in range(40):  # a new connection each: the two processes share them
        assert httpx.get(f"{hub.url}/api/models/{repo_id}", timeout=30).status_code == 200
    for _ in range(3):  # whichever process answers the scrape, the sum is the same
        samples = scrape(hub)
        counted = value(samples, "haven_http_requests_total", route=ROUTE, method="GET", status="200")
        assert counted - before == 40
    assert value(samples, "haven_http_request_duration_seconds_count", route=ROUTE, method="GET") >= 40
    pids = {k for k in samples if k.startswith("haven_process_start_time_seconds{")}
    assert len(pids) == 2, f"one start time per worker process, got {pids}"


def test_bytes_served_latency_and_404s_are_by_route_template(two_workers: Hub) -> None:
    hub = two_workers
    repo_id = f"alice/metrics-{uuid.uuid4().hex[:8]}"
    api: HfApi = hub.api()
    api.create_repo(repo_id)
    body = b"x" * 50_000
    api.upload_file(path_or_fileobj=body, path_in_repo="weights.txt", repo_id=repo_id)
    before = scrape(hub)
    for _ in range(3):
        assert httpx.get(f"{hub.url}/{repo_id}/resolve/main/weights.txt", timeout=30).content == body
    httpx.get(f"{hub.url}/api/models/alice/missing-{uuid.uuid4().hex[:6]}", timeout=30)
    after = scrape(hub)
    sent = [k for k in after if k.startswith("haven_http_response_bytes_total{") and "resolve" in k]
    assert sent, "downloads are counted under the resolve route's template"
    served = sum(after[k] - before.get(k, 0) for k in sent)
    assert served >= 3 * len(body)
    assert not any(repo_id in k for k in after), "routes are templates, never concrete paths"
    assert value(after, "haven_http_requests_total", route=ROUTE, status="404") > value(
        before, "haven_http_requests_total", route=ROUTE, status="404"
    )


def test_hub_gauges_count_jobs_repositories_and_storage(two_workers: Hub) -> None:
    samples = scrape(two_workers)
    assert value(samples, "haven_repositories", type="model") >= 1
    assert value(samples, "haven_storage_used_bytes") > 0
    assert 'haven_build_info{version="' in "".join(samples)
    text = httpx.get(f"{two_workers.url}/metrics", timeout=30).text
    assert "# TYPE haven_jobs gauge" in text
    assert "# TYPE haven_http_request_duration_seconds histogram" in text
