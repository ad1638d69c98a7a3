"""Scale-out: one PostgreSQL, one data directory, two Haven processes (as two hosts would run them).

    /work/venv/bin/python bench/scale_out.py [--size-mb 100] [--downloaders 200] [--committers 20]
                                             [--commits 5] [--duration 10] [--runs 2]

1. Load: `--downloaders` concurrent downloads (curl --parallel, split over both servers, following /resolve's
   redirect to each server's blob server) of one LFS file while `--committers` clients commit small files to
   one branch through both servers. Every download must arrive whole (size checked for all, sha256 for a
   sample), every commit must succeed and every committed file be on the branch. Reports aggregate GB/s and
   p99 download time, and commit p50/p99. Baseline in the same run: the same downloads from one process.
2. Small API requests: wrk GET /api/models/{id} (two wrk processes, 16 connections each): both aimed at one
   Haven process (baseline), then one at each of the two; alternated `--runs` times; the ratio is the scale-out.
   Two processes on a two-core machine share the same two cores, so expect a ratio near 1.

With `--s3`, blobs live in an S3 server (moto's, started as a process of its own on loopback): downloads
are redirected to presigned URLs and uploads go to presigned PUTs, so the download figures are the object
store's (moto serves a few tens of MB/s), and Haven only answers the redirects; use a smaller `--size-mb`.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, make_file, median

from tests.s3_server import S3Server, in_subprocess
from tests.support import Postgres, Server, tempdir

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def start_s3() -> tuple[S3Server, dict[str, str]]:
    """moto's S3 server in a process of its own, a bucket, and the settings that point Haven at it."""
    s3 = in_subprocess()
    return s3, s3.haven_env(s3.new_bucket("haven-bench"))


def start_fleet(root: Path, env: dict[str, str]) -> tuple[Postgres, list[Server], str]:
    """PostgreSQL, a user with a token, and two servers sharing the database and one data dir (and `env`)."""
    from haven.auth import service
    from haven.config import Settings
    from haven.hub import Hub

    pg = Postgres(tempdir("bench-pg-"))  # a directory of its own: the postgres user cannot enter `root`
    pg.start()
    url = pg.create_database("bench")
    data = root / "data"
    hub = Hub.open(Settings(data_dir=data, database_url=url))  # accounts only: no blob is touched
    with hub.db.write() as session:
        service.create_user(session, "bench", email="bench@example.org")
        token = service.create_token(session, "bench", "bench", "write")
    hub.close()
    servers = [Server(data, database_url=url, extra_env=env) for _ in range(2)]
    for s in servers:
        s.start(timeout=300)
    return pg, servers, token


def download_all(urls: list[str], size: int, token: str) -> tuple[float, list[float]]:
    """curl --parallel over the URLs (one curl per server): wall seconds and each transfer's time."""
    by_server: dict[str, list[str]] = {}
    for u in urls:
        by_server.setdefault(u.split("/", 3)[2], []).append(u)
    procs = []
    started = time.perf_counter()
    for group in by_server.values():
        args = ["curl", "-sfL", "--parallel", "--parallel-max", str(len(group)), "-H", f"Authorization: Bearer {token}"]
        for u in group:
            args += ["-o", "/dev/null", "-w", "%{http_code} %{size_download} %{time_total}\\n", u]
        procs.append(subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True))
    lines = []
    for p in procs:
        out, _ = p.communicate()
        if p.returncode != 0:
            raise RuntimeError(f"curl failed ({p.returncode})")
        lines += out.split()
    wall = time.perf_counter() - started
    rows = [lines[i : i + 3] for i in range(0, len(lines), 3)]
    bad = [r for r in rows if r[0] != "200" or int(r[1]) != size]
    if len(rows) != len(urls) or bad:
        raise RuntimeError(f"{len(bad)} of {len(urls)} downloads failed or were cut short: {bad[:3]}")
    return wall, [float(r[2]) for r in rows]


def check_sample(url: str, token: str, oid: str, tmp: Path) -> None:
    out = tmp / f"sample-{uuid.uuid4().hex[:6]}"
    subprocess.run(["curl", "-sfL", "-H", f"Authorization: Bearer {token}", "-o", str(out), url], check=True)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.unlink()
    if digest != oid:
        raise RuntimeError(f"a download from {url} has sha256 {digest}, not {oid}")


def committers(servers: list[Server], token: str, repo_id: str, n: int, commits: int) -> tuple[list[float], set[str]]:
    """`n` threads (alternating servers) each committing `commits` small files: latencies and paths."""
    from huggingface_hub import CommitOperationAdd, HfApi

    latencies: list[float] = []
    paths: set[str] = set()
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(i: int) -> None:
        api = HfApi(endpoint=servers[i % len(servers)].url, token=token)
        for j in range(commits):
            path = f"c{i}/f{j}.txt"
            t0 = time.perf_counter()
            try:
                api.create_commit(repo_id, [CommitOperationAdd(path, f"{i} {j}".encode())], commit_message=path)
            except Exception as e:  # reported below: a failed commit fails the benchmark
                with lock:
                    errors.append(e)
                return
            with lock:
                latencies.append(time.perf_counter() - t0)
                paths.add(path)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise RuntimeError(f"{len(errors)} commits failed, first: {errors[0]!r}")
    return latencies, paths


def p99(xs: list[float]) -> float:
    return statistics.quantiles(xs, n=100)[98] if len(xs) >= 2 else xs[0]


def wrk_pair(targets: list[str], duration: int) -> tuple[float, float]:
    """Two wrk processes at once (16 connections each), one per target: summed req/s, worst p99 (ms)."""
    args = ["wrk", "-t1", "-c16", f"-d{duration}s", "--latency", "--timeout", "30s"]
    procs = [subprocess.Popen([*args, t], stdout=subprocess.PIPE, text=True) for t in targets]
    rate, worst = 0.0, 0.0
    for p in procs:
        out, _ = p.communicate()
        if "Non-2xx" in out or "Socket errors" in out:  # a timeout (30 s) counts as an error too
            raise RuntimeError(f"wrk errors:\n{out}")
        rate += float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
        m = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        worst = max(worst, float(m.group(1)) * _UNITS[m.group(2)])
    return rate, worst


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--downloaders", type=int, default=200)
    ap.add_argument("--committers", type=int, default=20)
    ap.add_argument("--commits", type=int, default=5)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--s3", action="store_true", help="blobs in an S3 server (moto) instead of the data dir")
    args = ap.parse_args()
    os.environ.setdefault("PYTHONPATH", str(ROOT))
    from huggingface_hub import HfApi

    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    s3, env = start_s3() if args.s3 else (None, {})
    pg, servers, token = start_fleet(root, env)
    print(
        f"blobs: {'S3 (moto), downloads redirected to presigned URLs' if s3 else 'local disk, sendfile blob servers'}"
    )
    try:
        api = HfApi(endpoint=servers[0].url, token=token)
        repo_id = f"bench/model-{uuid.uuid4().hex[:6]}"
        api.create_repo(repo_id)
        size = args.size_mb * 1_000_000
        blob = root / "weights.bin"
        make_file(blob, size)
        oid = hashlib.sha256(blob.read_bytes()).hexdigest()
        api.upload_file(path_or_fileobj=str(blob), path_in_repo="weights.bin", repo_id=repo_id)
        blob.unlink()
        resolve = [f"{s.url}/{repo_id}/resolve/main/weights.bin" for s in servers]
        gb = size * args.downloaders / 1e9

        # Baseline: every download from the first process, nothing else running.
        wall1, times1 = download_all([resolve[0]] * args.downloaders, size, token)
        # Both processes serve the downloads while 20 clients commit through both.
        outcome: list[tuple[list[float], set[str]] | BaseException] = []

        def commit_load() -> None:
            try:
                outcome.append(committers(servers, token, repo_id, args.committers, args.commits))
            except BaseException as e:  # re-raised in the main thread
                outcome.append(e)

        commit_thread = threading.Thread(target=commit_load)
        commit_thread.start()
        wall2, times2 = download_all([resolve[i % 2] for i in range(args.downloaders)], size, token)
        commit_thread.join()
        if isinstance(outcome[0], BaseException):
            raise outcome[0]
        latencies, paths = outcome[0]
        for url in resolve:
            check_sample(url, token, oid, root)
        listed = {f.rfilename for f in api.model_info(repo_id).siblings or []}
        missing = paths - listed
        assert not missing, f"committed files missing from the branch: {sorted(missing)[:5]}"
        print(f"downloads: {args.downloaders} x {args.size_mb} MB ({gb:.1f} GB), all complete, sha256 sampled")
        print(f"  one process, alone:              {gb / wall1:.2f} GB/s, p99 {p99(times1):.1f} s")
        print(f"  two processes, with commits:     {gb / wall2:.2f} GB/s, p99 {p99(times2):.1f} s")
        print(
            f"commits: {len(latencies)} by {args.committers} clients through both processes, all on the branch; "
            f"p50 {median(latencies) * 1000:.0f} ms, p99 {p99(latencies) * 1000:.0f} ms"
        )

        model_api = [f"{s.url}/api/models/{repo_id}" for s in servers]
        one, two = [], []
        for _ in range(args.runs):
            one.append(wrk_pair([model_api[0], model_api[0]], args.duration))
            two.append(wrk_pair(model_api, args.duration))
        r1, r2 = median([r for r, _ in one]), median([r for r, _ in two])
        print(f"GET /api/models/{{id}}, 32 connections, {args.runs} alternated runs of {args.duration} s:")
        print(f"  one process (baseline): {r1:.0f} req/s, p99 {median([p for _, p in one]):.1f} ms")
        print(f"  two processes:          {r2:.0f} req/s, p99 {median([p for _, p in two]):.1f} ms")
        print(f"  scale-out ratio: {r2 / r1:.2f}x on {os.cpu_count()} cores")
    finally:
        for s in servers:
            s.stop()
        pg.stop()
        if s3 is not None:
            s3.stop()
        subprocess.run(["rm", "-rf", str(root)], check=False)


if __name__ == "__main__":
    main()
