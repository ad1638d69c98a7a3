"""Cost of the rate limiter on the hot path: HEAD /{repo}/resolve/main/config.json with every bucket limited
(limits far above what the run can reach, so every request is counted and answered with RateLimit headers),
with and without a token.

    /work/venv/bin/python bench/ratelimit.py [--runs 3] [--duration 5]

Baseline in the same run, alternated: the same request to a second Haven with the limits off (the default,
where the middleware is not even installed). ApacheBench `ab -k -i -c16` (see head.py for why not wrk).
Target: limited >= 0.95x unlimited.

On a noisy machine the end-to-end ratio drowns in noise, so the middleware is also timed in-process: the
same ASGI call through RateLimitMiddleware (counters in a file, with its flock) and without, 100,000 calls
each; the difference is its cost per request, set beside the HEAD's own time per request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import haven, median, verdict
from head import ab

TARGET = 0.95
LIMITED = {f"HAVEN_RATE_LIMIT_{b}": "1000000000" for b in ("API", "RESOLVE", "PAGES")}


def publish(hv, tmp: str) -> str:  # type: ignore[no-untyped-def]
    repo = f"{hv.user}/small"
    hv.api().create_repo(repo)
    cfg = Path(tmp) / "config.json"
    cfg.write_text('{"model_type": "bert", "hidden_size": 8}')
    hv.api().upload_file(path_or_fileobj=str(cfg), path_in_repo="config.json", repo_id=repo)
    return f"{hv.url}/{repo}/resolve/main/config.json"


def per_call_us(calls: int = 100_000) -> tuple[float, float, float]:
    """Microseconds per ASGI call of a trivial app, best of three: bare, through the rate limiter with one
    worker (no lock), and with the counters shared by several workers (flock per count)."""
    from haven.api.ratelimit import RateLimitMiddleware
    from haven.config import Settings
    from haven.ratelimit.counters import WindowCounters

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def send(message):  # type: ignore[no-untyped-def]
        pass

    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), rate_limit_resolve=10**9)
        alone = RateLimitMiddleware(app, settings, WindowCounters(Path(tmp) / "a", shared=False))
        shared = RateLimitMiddleware(app, settings, WindowCounters(Path(tmp) / "s", shared=True))
        scope = {
            "type": "http",
            "method": "HEAD",
            "path": "/bench/small/resolve/main/config.json",
            "client": ("127.0.0.1", 5000),
            "headers": [(b"host", b"x"), (b"authorization", b"Bearer hf_" + b"x" * 34)],
        }

        async def run(target) -> float:  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            for _ in range(calls):
                await target(scope, None, send)
            return (time.perf_counter() - start) / calls * 1e6

        return tuple(min(asyncio.run(run(target)) for _ in range(3)) for target in (app, alone, shared))  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--duration", type=int, default=5)
    args = ap.parse_args()
    with haven() as off, haven(env=LIMITED) as on, tempfile.TemporaryDirectory() as tmp:
        plain, limited = publish(off, tmp), publish(on, tmp)
        cases = {
            "limits off (baseline), anonymous": (plain, None),
            "limits on, anonymous (per address)": (limited, None),
            "limits off (baseline), token": (plain, off.token),
            "limits on, token (per token)": (limited, on.token),
        }
        results: dict[str, list[float]] = {name: [] for name in cases}
        for url, token in cases.values():
            ab(url, 1, True, token)  # warm-up
        for _ in range(args.runs):
            for name, (url, token) in cases.items():
                results[name].append(ab(url, args.duration, True, token)[0])
    print(f"\n== HEAD /resolve, ab -k -i -c16, {args.duration}s x {args.runs} alternated runs (req/s) ==")
    for name, rates in results.items():
        print(f"{name:40s} {median(rates):8.0f}  [{', '.join(f'{r:.0f}' for r in rates)}]")
    bare, alone, shared = per_call_us()
    head_us = 1e6 / median(results[next(iter(results))])  # server time per HEAD at the baseline rate
    for label, through in (("one worker", alone), ("shared by workers", shared)):
        extra = through - bare
        print(
            f"in-process, {label}: +{extra:.1f} us per request = {extra / head_us * 100:.1f}% of a HEAD ({head_us:.0f} us)"
        )
    names = list(results)
    ratios = [median(results[names[i + 1]]) / median(results[names[i]]) for i in (0, 2)]
    print(f"ratio limited/unlimited: anonymous {ratios[0]:.3f}x, token {ratios[1]:.3f}x")
    print(f"target >= {TARGET}x: {verdict(min(ratios) >= TARGET)}")


if __name__ == "__main__":
    main()
