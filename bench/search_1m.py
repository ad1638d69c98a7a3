"""Listing and search at a million repositories, through the HTTP API, on SQLite and on PostgreSQL.

    /work/venv/bin/python bench/search_1m.py [--repos 1000000] [--backend sqlite,postgres] [--duration 10]
                                             [--keep DIR]   # reuse / keep the loaded SQLite data dir

Loads N synthetic repositories straight into the database (bench/synthetic.py), starts `haven serve` with
one worker, and times each query two ways: sequentially with the real client (huggingface_hub's
list_models / list_datasets, one page of 50: p50 / p99 over the runs) and with wrk (2 threads,
16 connections: req/s, p50, p99). Baseline in the same run, same server: GET /api/health.
Queries: search by text (a common and a rarer word, a two-word query), a tag filter sorted by
downloads, an author's listing, dataset search, tag counts for facets, and page 50 of a filtered
listing reached through Link-header cursors. Targets: p50 <= 20 ms and p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, verdict  # noqa: F401  (ROOT puts the repository on sys.path)
from synthetic import load

from tests.support import Postgres, Server

P50_TARGET, P99_TARGET = 20.0, 100.0
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}

# (label, path, parameters): what the Hub's clients and the web pages ask for most.
QUERIES = [
    ("search 'bert' (common word)", "/api/models", {"search": "bert", "limit": 50}),
    ("search 'mistral gguf'", "/api/models", {"search": "mistral gguf", "limit": 50}),
    ("search 'kalomi' (rarer word)", "/api/models", {"search": "kalomi", "limit": 50}),
    ("filter pytorch, sort downloads", "/api/models", {"filter": "pytorch", "sort": "downloads", "limit": 50}),
    (
        "filter ko + license:mit, sort likes",
        "/api/models",
        {"filter": ["ko", "license:mit"], "sort": "likes", "limit": 50},
    ),
    ("author user3, sort downloads", "/api/models", {"author": "user3", "sort": "downloads", "limit": 50}),
    ("sort trendingScore", "/api/models", {"sort": "trendingScore", "limit": 50}),
    ("datasets search 'wiki'", "/api/datasets", {"search": "wiki", "limit": 50}),
    ("tag counts (facets), search 'bert'", "/api/haven/models/tag-counts", {"search": "bert"}),
]


def wrk(url: str, duration: int) -> tuple[float, float, float]:
    out = subprocess.run(
        ["wrk", "-t2", "-c16", f"-d{duration}s", "--timeout", "30s", "--latency", url],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        print(f"wrk {url}: errors\n{out}", flush=True)
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"\s{p}%\s+([\d.]+)(us|ms|s)", out)
        return float(m.group(1)) * _UNITS[m.group(2)] if m else float("nan")  # type: ignore[union-attr]

    return rate, pct("50"), pct("99")


def client_times(base: str, path: str, params: dict, runs: int) -> tuple[float, float, int]:
    """p50 / p99 ms of one page through the real client's HTTP session (list_models builds the same URL)."""
    from huggingface_hub.utils import get_session

    session = get_session()
    url = f"{base}{path}"
    times, n = [], 0
    for _ in range(runs):
        t = time.perf_counter()
        r = session.get(url, params=params)
        times.append((time.perf_counter() - t) * 1000)
        r.raise_for_status()
        n = len(r.json())
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(len(times) * 0.99))], n


def real_client_check(base: str) -> str:
    """The real client's list_models / list_datasets over the loaded data (correctness, not timing)."""
    from huggingface_hub import HfApi

    api = HfApi(endpoint=base, token=False)
    models = list(api.list_models(search="bert", filter="pytorch", sort="downloads", limit=20, expand=["downloads"]))
    downloads = [m.downloads for m in models]
    assert downloads == sorted(downloads, reverse=True), downloads
    datasets = list(api.list_datasets(author="user3", limit=5))
    return f"list_models -> {len(models)} models sorted by downloads; list_datasets(author) -> {len(datasets)}"


def page_50(base: str) -> tuple[float, float]:
    """Follow Link headers to page 50 (limit 50, filter transformers, sort downloads): (total s, last page ms)."""
    client = httpx.Client()
    url = f"{base}/api/models?" + urlencode({"filter": "transformers", "sort": "downloads", "limit": 50})
    t0 = time.perf_counter()
    last = 0.0
    for _ in range(50):
        t = time.perf_counter()
        r = client.get(url)
        last = (time.perf_counter() - t) * 1000
        r.raise_for_status()
        url = r.links["next"]["url"]
    return time.perf_counter() - t0, last


def measure(backend: str, server: Server, duration: int, runs: int) -> list[tuple[str, str]]:
    base = server.url
    lines = []
    health = f"{base}/api/health"
    h_rate, h50, h99 = wrk(health, duration)
    lines.append(f"  {'GET /api/health (baseline)':40s} wrk {h_rate:8.0f} req/s  p50 {h50:6.2f}  p99 {h99:6.2f} ms")
    print(f"{backend}:", lines[-1], sep="\n", flush=True)
    results = []
    for label, path, params in QUERIES:
        c50, c99, n = client_times(base, path, params, runs)
        url = f"{base}{path}?{urlencode(params, doseq=True)}"
        rate, w50, w99 = wrk(url, duration)
        ok = c50 <= P50_TARGET and c99 <= P99_TARGET and w50 <= P50_TARGET and w99 <= P99_TARGET
        results.append(ok)
        lines.append(
            f"  {label:40s} wrk {rate:8.0f} req/s  p50 {w50:6.2f}  p99 {w99:6.2f} ms | "
            f"client p50 {c50:6.2f}  p99 {c99:6.2f} ms  ({n} items)  {verdict(ok)}"
        )
        print(lines[-1], flush=True)
    total, last = page_50(base)
    lines.append(f"  {'page 50 via Link cursors (50 requests)':40s} {total:.2f} s in all, page 50 took {last:.2f} ms")
    lines.append("  " + real_client_check(base))
    print(f"\n{backend} (summary):", *lines, sep="\n", flush=True)
    return [(backend, line) for line in lines]


def run(backend: str, n: int, duration: int, runs: int, keep: Path | None) -> None:
    from haven.config import Settings
    from haven.hub import Hub

    root = Path(tempfile.mkdtemp(prefix=f"bench-search-{backend}-"))
    root.chmod(0o755)  # the PostgreSQL cluster below runs as the postgres user
    pg = None
    url = None
    data = (keep / backend / "data") if keep else root / "data"
    if backend == "postgres":
        pg = Postgres(root / "pg")
        pg.start()
        url = pg.create_database(f"bench_{uuid.uuid4().hex[:8]}")
    try:
        fresh = not (data / "haven.db").exists() or backend == "postgres"
        data.mkdir(parents=True, exist_ok=True)
        hub = Hub.open(Settings(data_dir=data, database_url=url))
        db_url = hub.settings.sqlalchemy_url
        hub.close()
        if fresh:
            t = time.perf_counter()
            timings = load(db_url, n)
            print(f"{backend}: loaded {n:,} repositories in {time.perf_counter() - t:.0f} s {timings}", flush=True)
        server = Server(data, database_url=url)
        server.start(timeout=120)
        try:
            for _ in range(3):  # warm the caches the way a running hub's are
                for _label, path, params in QUERIES:
                    httpx.get(f"{server.url}{path}", params=params, timeout=60)
            measure(backend, server, duration, runs)
        finally:
            server.stop()
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=1_000_000)
    ap.add_argument("--backend", default="sqlite,postgres")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--keep", type=Path, default=None)
    args = ap.parse_args()
    for backend in args.backend.split(","):
        run(backend, args.repos, args.duration, args.runs, args.keep)


if __name__ == "__main__":
    main()
