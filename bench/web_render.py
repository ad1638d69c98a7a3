"""Server-side render time of the web pages with many repositories in the database, and page weight.

Loads N synthetic repositories (bench/synthetic.py: Zipf authors, tags and card words, search
documents; rows only, no git behind them, which listings do not read) into a fresh database, starts
Haven on it, pushes one real model with a card and a safetensors file, then times GET of the pages on
one keep-alive connection, against GET /api/health (the ASGI stack and nothing else) measured in the
same run, requests interleaved.

    /work/venv/bin/python bench/web_render.py [--repos 1000000] [--requests 200]
"""

from __future__ import annotations

import argparse
import re
import statistics
import struct
import sys
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import haven
from synthetic import load

CARD = """---
license: mit
pipeline_tag: text-classification
library_name: transformers
language: en
datasets: [bench/corpus]
---
# Bench model

| metric | value |
|---|---|
| accuracy | 0.91 |

```python
from transformers import AutoModel
model = AutoModel.from_pretrained("bench/model")
```
""" + "\n".join(f"Paragraph {i} of the card, with **bold** and `code`." for i in range(40))


def safetensors(n_tensors: int = 200) -> bytes:
    header = {
        f"layer.{i}.weight": {"dtype": "F32", "shape": [16, 16], "data_offsets": [i * 1024, (i + 1) * 1024]}
        for i in range(n_tensors)
    }
    raw = orjson.dumps(header)
    return struct.pack("<Q", len(raw)) + raw + b"\0" * (n_tensors * 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--keep", type=Path, default=None, help="keep (and reuse) the loaded hub here")
    args = parser.parse_args()
    from huggingface_hub import CommitOperationAdd, HfApi

    t0 = time.perf_counter()
    with haven(prepare=lambda url: load(url, args.repos, log=False), keep=args.keep) as h:
        print(f"loaded {args.repos:,} synthetic repositories and started in {time.perf_counter() - t0:.0f} s")
        api = HfApi(endpoint=h.server.url, token=h.token)
        repo = f"{h.user}/model"
        api.create_repo(repo, exist_ok=True)
        ops = [CommitOperationAdd("README.md", CARD.encode()), CommitOperationAdd("model.safetensors", safetensors())]
        ops += [CommitOperationAdd(f"src/file{i}.py", f"x = {i}\n".encode()) for i in range(20)]
        api.create_commit(repo, ops, commit_message="bench model")
        pages = {
            "health (baseline)": "/api/health",
            "home": "/",
            "listing /models": "/models",
            "listing search+facet": "/models?search=llama+chat&license=apache-2.0&sort=downloads",
            "listing two facets": "/models?task=text-generation&library=transformers&sort=likes",
            "datasets listing": "/datasets?sort=trending",
            "model page": f"/{repo}",
            "files tab": f"/{repo}/tree/main",
            "safetensors file": f"/{repo}/blob/main/model.safetensors",
        }
        times: dict[str, list[float]] = {k: [] for k in pages}
        sizes: dict[str, int] = {}
        with httpx.Client(base_url=h.server.url, headers={"accept": "text/html"}, timeout=120) as client:
            for url in pages.values():  # warm up
                for i in range(5):
                    start = time.perf_counter()
                    assert client.get(url).status_code == 200, url
                    if i == 0:
                        print(f"  first GET {url}: {(time.perf_counter() - start) * 1000:.0f} ms", flush=True)
            for _ in range(args.requests):
                for name, url in pages.items():
                    start = time.perf_counter()
                    r = client.get(url)
                    times[name].append((time.perf_counter() - start) * 1000)
                    sizes[name] = len(r.content)
            page = client.get(f"/{repo}").text
            assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
            asset_bytes = sum(len(client.get(a).content) for a in assets)
        base = statistics.median(times["health (baseline)"])
        print(f"\n{args.repos} repositories, {args.requests} requests per page, one keep-alive connection")
        print(f"{'page':24} {'p50 ms':>8} {'p95 ms':>8} {'p50 - baseline':>15} {'HTML bytes':>11}")
        for name, xs in times.items():
            xs.sort()
            p50, p95 = statistics.median(xs), xs[int(len(xs) * 0.95) - 1]
            print(f"{name:24} {p50:8.1f} {p95:8.1f} {p50 - base:15.1f} {sizes[name]:11d}")
        weight = sizes["model page"] + asset_bytes
        print(f"\nmodel page weight: {weight} bytes uncompressed (HTML {sizes['model page']} + CSS/JS {asset_bytes})")
        worst = max(statistics.median(times[k]) for k in pages if k != "health (baseline)")
        print(f"target p50 <= 30 ms: {'PASS' if worst <= 30 else 'FAIL'} (slowest page p50 {worst:.1f} ms)")
        print(f"target weight <= 200 KB: {'PASS' if weight <= 200_000 else 'FAIL'}")


if __name__ == "__main__":
    main()
