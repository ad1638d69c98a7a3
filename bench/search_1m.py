"""Listing and search at a million repositories, through the HTTP API, on SQLite and on PostgreSQL.

    /work/venv/bin/python bench/search_1m.py [--repos 1000000] [--backend sqlite,postgres] [--duration 10]
                                             [--rounds 3] [--only LABEL-PART] [--before CHECKOUT]
                                             [--keep DIR]   # reuse / keep the loaded data dir and cluster
                                             [--before-keep DIR]  # the --before tree's own loaded data

Loads N synthetic repositories straight into the database (bench/synthetic.py), starts `haven serve` with
one worker, and times each query two ways: sequentially with the real client (huggingface_hub's
list_models / list_datasets, one page of 50: p50 / p99 over the runs) and with wrk twice: one connection
(p50, p99: the server's latency without the Python client's own time) and 2 threads x 16 connections
(req/s at saturation; its p50 / p99 are printed too, but at 16 connections on one worker they are the
queue: ~16 / req/s, so a 20 ms p50 there would take ~800 searches/s from one process). Baseline in the
same run, same server: GET /api/health.
Queries: search by text (a common and a rarer word, a two-word query), a tag filter sorted by
downloads, an author's listing, dataset search, tag counts for facets, and page 50 of a filtered
listing reached through Link-header cursors. Targets: p50 <= 20 ms and p99 <= 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, verdict  # (ROOT puts the repository on sys.path)
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
    ("datasets search 'wikipedia'", "/api/datasets", {"search": "wikipedia", "limit": 50}),
    ("tag counts (facets), search 'bert'", "/api/haven/models/tag-counts", {"search": "bert"}),
]


def wrk(url: str, duration: int, connections: int = 16) -> tuple[float, float, float]:
    threads = min(2, connections)
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "30s", "--latency", url],
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


def settle(base: str, quick_ms: float = 5.0, timeout: float = 30.0) -> None:
    """Wait until the server is idle: wrk stops timing at the end of its run, but the server still answers
    the 16 requests its connections had in flight (the client is gone; the work is not), and a request
    timed meanwhile shares the process with them. Idle = three GET /api/health in a row under `quick_ms`."""
    deadline, quick = time.monotonic() + timeout, 0
    host, port = base.removeprefix("http://").split(":")
    while quick < 3 and time.monotonic() < deadline:
        conn = http.client.HTTPConnection(host, int(port), timeout=timeout)
        t = time.perf_counter()
        conn.request("GET", "/api/health")
        conn.getresponse().read()
        quick = quick + 1 if (time.perf_counter() - t) * 1000 < quick_ms else 0
        conn.close()
        time.sleep(0.05)


def client_times(base: str, path: str, params: dict, runs: int) -> tuple[float, float, int]:
    """p50 / p99 ms of one page through the real client's HTTP session (list_models builds the same URL),
    once the server is idle (`settle`)."""
    from huggingface_hub.utils import get_session

    settle(base)
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


def page_50_url(base: str) -> tuple[str, float]:
    """Follow Link headers to page 50 (limit 50, filter transformers, sort downloads): (its URL, total s)."""
    client = httpx.Client(timeout=60)
    url = f"{base}/api/models?" + urlencode({"filter": "transformers", "sort": "downloads", "limit": 50})
    t0 = time.perf_counter()
    for _ in range(49):
        r = client.get(url)
        r.raise_for_status()
        url = r.links["next"]["url"]
    return url, time.perf_counter() - t0


def measure_round(base: str, queries: list[tuple[str, str, dict]], duration: int, runs: int) -> dict[str, tuple]:
    """One pass over the queries (and the baseline): label -> (wrk req/s, p50, p99 at 16 connections,
    client p50, p99, n, wrk p50, p99 at one connection)."""
    out: dict[str, tuple] = {}
    rate, w50, w99 = wrk(f"{base}/api/health", duration)
    nan = float("nan")
    out[BASELINE] = (rate, w50, w99, nan, nan, 0, *wrk(f"{base}/api/health", duration, connections=1)[1:])
    for label, path, params in queries:
        c50, c99, n = client_times(base, path, params, runs)
        url = f"{base}{path}?{urlencode(params, doseq=True)}"
        _, one50, one99 = wrk(url, duration, connections=1)
        rate, w50, w99 = wrk(url, duration)
        out[label] = (rate, w50, w99, c50, c99, n, one50, one99)
    settle(base)  # before the other server's (--before) pass
    return out


def measure(backend: str, servers: dict[str, Server], duration: int, runs: int, rounds: int, only: str) -> None:
    """`rounds` passes over every query, alternating the servers (this tree's, and the --before tree's when
    given) within each pass; per server and query the median of each figure over the passes."""
    queries = [q for q in QUERIES if only in q[0]]
    if only in "page 50":
        url, total = page_50_url(next(iter(servers.values())).url)
        print(f"{backend}: pages 1-49 via Link cursors in {total:.2f} s", flush=True)
        queries.append(("page 50 via Link cursors", "/api/models", _params(url)))
    passes: dict[str, list[dict[str, tuple]]] = {name: [] for name in servers}
    for r in range(rounds):
        for name, server in servers.items():
            passes[name].append(measure_round(server.url, queries, duration, runs))
        print(f"{backend}: round {r + 1}/{rounds} done (load average {_load()})", flush=True)
    print(f"\n{backend}: medians of {rounds} rounds; load average {_load()}", flush=True)
    for label in passes[next(iter(servers))][0]:
        for name in servers:
            rate, w50, w99, c50, c99, n, one50, one99 = (
                statistics.median(p[label][i] for p in passes[name]) for i in range(8)
            )
            line = (
                f"  {name:6s} {label:40s} wrk x1 p50 {one50:6.2f}  p99 {one99:6.2f} ms | "
                f"wrk x16 {rate:6.0f} req/s  p50 {w50:6.1f}  p99 {w99:6.1f} ms"
            )
            if label == BASELINE:
                print(line, flush=True)
                continue
            ok = all(p50 <= P50_TARGET and p99 <= P99_TARGET for p50, p99 in ((c50, c99), (one50, one99)))
            print(
                f"{line} | client p50 {c50:6.2f}  p99 {c99:6.2f} ms  ({n:.0f} items)  {verdict(ok)}",
                flush=True,
            )
    for name, server in servers.items():
        print(f"  {name:6s} " + real_client_check(server.url), flush=True)


BASELINE = "GET /api/health (baseline)"


def _params(url: str) -> dict:
    from urllib.parse import parse_qs, urlsplit

    return {k: v if len(v) > 1 else v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class KeptPostgres(Postgres):
    """A cluster whose data dir may already exist (from an earlier run with --keep): then it is just started."""

    def start(self) -> None:
        if not (self.root / "data" / "PG_VERSION").exists():
            super().start()
            return
        from tests.support import _pg_bin

        self.bindir = _pg_bin()  # type: ignore[assignment]
        data, opts = self.root / "data", f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(data), "-o", opts, "-l", str(self.root / "pg.log"), "-w", "start"
        )

    def url(self, name: str) -> str:
        return f"postgresql+psycopg://haven@127.0.0.1:{self.port}/{name}"


def run(
    backend: str,
    n: int,
    duration: int,
    runs: int,
    rounds: int,
    keep: Path | None,
    only: str,
    before: Path | None,
    before_keep: Path | None = None,
) -> None:
    from haven.config import Settings
    from haven.hub import Hub

    root = Path(tempfile.mkdtemp(prefix=f"bench-search-{backend}-"))
    root.chmod(0o755)  # the PostgreSQL cluster below runs as the postgres user
    home = (keep / backend) if keep else root
    home.mkdir(parents=True, exist_ok=True)
    home.chmod(0o755)
    data, loaded = home / "data", home / "loaded"
    pg = pg_before = None
    url = None
    if backend == "postgres":
        pg = KeptPostgres(home / "pg")
        pg.start()
        url = pg.url("bench") if loaded.exists() else pg.create_database("bench")
    try:
        data.mkdir(parents=True, exist_ok=True)
        hub = Hub.open(Settings(data_dir=data, database_url=url))  # migrates
        db_url = hub.settings.sqlalchemy_url
        hub.close()
        if not loaded.exists():
            t = time.perf_counter()
            timings = load(db_url, n)
            print(f"{backend}: loaded {n:,} repositories in {time.perf_counter() - t:.0f} s {timings}", flush=True)
            loaded.write_text(str(n))
        trees = {"after": ROOT} | ({"before": before} if before else {})
        homes = {name: (data, url) for name in trees}
        if before and before_keep and (before_keep / backend / "loaded").exists():
            # A schema the two trees do not share: the before tree serves a copy loaded (or migrated) its way.
            homes["before"] = (before_keep / backend / "data", url)
            if backend == "postgres":
                pg_before = KeptPostgres(before_keep / backend / "pg")
                pg_before.start()
                homes["before"] = (before_keep / backend / "data", pg_before.url("bench"))
        servers = {
            name: Server(
                homes[name][0], database_url=homes[name][1], extra_env={"PYTHONPATH": str(tree), "HAVEN_BLOB_PORT": "0"}
            )
            for name, tree in trees.items()
        }
        try:
            for server in servers.values():
                server.start(timeout=120)
                for _ in range(3):  # warm the caches the way a running hub's are
                    for _label, path, params in QUERIES:
                        httpx.get(f"{server.url}{path}", params=params, timeout=60)
            measure(backend, servers, duration, runs, rounds, only)
        finally:
            for server in servers.values():
                server.stop()
    finally:
        if pg is not None:
            pg.stop()
        if pg_before is not None:
            pg_before.stop()
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repos", type=int, default=1_000_000)
    ap.add_argument("--backend", default="sqlite,postgres")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--keep", type=Path, default=None)
    ap.add_argument("--only", default="", help="measure only the queries whose label contains this")
    ap.add_argument("--before", type=Path, default=None, help="a checkout of the code to compare with, served alike")
    ap.add_argument("--before-keep", type=Path, default=None, help="the --before tree's own loaded data (as --keep)")
    args = ap.parse_args()
    keep, before, before_keep = (p.resolve() if p else None for p in (args.keep, args.before, args.before_keep))
    os.chdir("/")  # each server imports haven from its tree (PYTHONPATH), not from the working directory
    for backend in args.backend.split(","):
        run(backend, args.repos, args.duration, args.runs, args.rounds, keep, args.only, before, before_keep)


if __name__ == "__main__":
    main()
