"""Small-request rate: HEAD /{repo}/resolve/main/config.json, the metadata call every from_pretrained makes.

    /work/venv/bin/python bench/head.py [--runs 2] [--duration 10]

A public repository, Haven with one worker, 16 connections. Baselines in the same run, alternated:
GET /api/health on the same Haven server (the framework's floor) and nginx `return 200` (one worker).
Target: >= 1500 req/s for the HEAD.

wrk cannot time HEAD: its response parser is not told the request was HEAD, so it waits for the
Content-Length bytes that a HEAD answer never carries, and no request completes (`wrk.method = "HEAD"`
reports 0 requests). So the HEAD is timed with ApacheBench (`ab -k -i -c16`, apt package
apache2-utils; skipped with a note if absent), and wrk -t2 -c16 --latency times GET of the same URL
(the same handler, plus the 40-byte body) with the same baselines.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import haven, median, nginx, verdict

TARGET = 1500
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, duration: int) -> tuple[float, float, float]:
    """GET with wrk: (requests/s, p50 ms, p99 ms); fails if any response was not 2xx/3xx."""
    args = ["wrk", "-t2", "-c16", f"-d{duration}s", "--latency"]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        raise RuntimeError(f"wrk {url}: errors\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        m = re.search(rf"^\s+{p}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        assert m, out
        return float(m.group(1)) * _UNITS[m.group(2)]

    return rate, pct("50"), pct("99")


def ab(url: str, duration: int, head: bool, token: str | None = None) -> tuple[float, float, float]:
    """ApacheBench with keep-alive: (requests/s, p50 ms, p99 ms); ab reports percentiles in whole ms."""
    args = ["ab", "-k", "-c16", "-t", str(duration), "-n", "100000000", *(["-i"] if head else [])]
    args += ["-H", f"Authorization: Bearer {token}"] if token else []
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))  # type: ignore[union-attr]
    if failed or "Non-2xx" in out:
        raise RuntimeError(f"ab {url}: errors\n{out}")
    rate = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def pct(p: str) -> float:
        return float(re.search(rf"^\s+{p}%\s+(\d+)", out, re.M).group(1))  # type: ignore[union-attr]

    return rate, pct("50"), pct("99")


def report(title: str, results: dict[str, list[tuple[float, float, float]]]) -> None:
    print(f"\n== {title} (medians; per-run req/s in brackets) ==")
    for name, rs in results.items():
        rates = [r[0] for r in rs]
        print(
            f"{name:42s} {median(rates):9.0f} req/s  p50 {median([r[1] for r in rs]):6.2f} ms"
            f"  p99 {median([r[2] for r in rs]):6.2f} ms  [{', '.join(f'{x:.0f}' for x in rates)}]"
        )
    first, health, ngx = (median([r[0] for r in rs]) for rs in results.values())
    print(f"ratio to haven /api/health {first / health:.2f}x, to nginx {first / ngx:.3f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--duration", type=int, default=10)
    args = ap.parse_args()

    have_ab = shutil.which("ab") is not None
    with haven() as hv, nginx("location / { return 200; }") as ng, tempfile.TemporaryDirectory() as tmp:
        api = hv.api()
        repo = f"{hv.user}/small"
        api.create_repo(repo)
        cfg = Path(tmp) / "config.json"
        cfg.write_text('{"model_type": "bert", "hidden_size": 8}')
        api.upload_file(path_or_fileobj=str(cfg), path_in_repo="config.json", repo_id=repo)
        resolve = f"{hv.url}/{repo}/resolve/main/config.json"
        health, root = f"{hv.url}/api/health", f"{ng.url}/"
        ab_cases = {
            "ab  HEAD haven resolve/main/config.json": (resolve, True),
            "ab  GET  haven /api/health": (health, False),
            "ab  GET  nginx return 200 (1 worker)": (root, False),
        }
        wrk_cases = {
            "wrk GET  haven resolve/main/config.json": resolve,
            "wrk GET  haven /api/health": health,
            "wrk GET  nginx return 200 (1 worker)": root,
        }
        for url in wrk_cases.values():  # warm-up: caches and first-touch paths
            wrk(url, 2)
        ab_res: dict[str, list[tuple[float, float, float]]] = {k: [] for k in ab_cases}
        wrk_res: dict[str, list[tuple[float, float, float]]] = {k: [] for k in wrk_cases}
        for _ in range(args.runs):
            if have_ab:
                for name, (url, head) in ab_cases.items():
                    ab_res[name].append(ab(url, args.duration, head))
            for name, url in wrk_cases.items():
                wrk_res[name].append(wrk(url, args.duration))

    title = f"16 connections, {args.duration}s each, {args.runs} alternated runs"
    if have_ab:
        report(f"HEAD: ab -k -i -c16, {title}", ab_res)
    else:
        print("\n(ab not installed: apt-get install apache2-utils to time the HEAD; wrk cannot)")
    report(f"GET: wrk -t2 -c16 --latency, {title}", wrk_res)
    key, figure = ("HEAD (ab)", ab_res) if have_ab else ("GET (wrk)", wrk_res)
    rate = median([r[0] for r in next(iter(figure.values()))])
    print(f"\ntarget >= {TARGET} req/s for {key} on /resolve: {rate:.0f} req/s, {verdict(rate >= TARGET)}")


if __name__ == "__main__":
    main()
