"""Server-side render time of the web pages with many repositories in the database, and page weight.

Starts Haven, loads N synthetic model and dataset rows straight into its database (our own small
loader: rows only, no git repositories behind them, which listings do not read), pushes one real model
with a card and a safetensors file, then times GET of the pages on one keep-alive connection, against
GET /api/health (the ASGI stack and nothing else) measured in the same run, requests interleaved.

    /work/venv/bin/python bench/web_render.py [--repos 10000] [--requests 200]
"""

from __future__ import annotations

import argparse
import random
import re
import secrets
import statistics
import struct
import sys
import time
from pathlib import Path

import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import haven

TASKS = ["text-classification", "token-classification", "translation", "summarization", "text-generation"]
LIBRARIES = ["transformers", "sentence-transformers", "diffusers", "timm", "peft"]
LICENSES = ["mit", "apache-2.0", "cc-by-4.0", "openrail", "other"]
LANGUAGES = ["en", "fr", "de", "zh", "es", "ja"]
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


def load_synthetic(data_dir: object, owner: str, n: int) -> None:
    """N repository rows (two thirds models) with tags, straight into the database."""
    from sqlalchemy import insert, select

    from haven.auth.models import Account
    from haven.config import Settings
    from haven.db import utcnow
    from haven.hub import Hub
    from haven.repos.models import Repo, RepoTag

    hub = Hub.open(Settings(data_dir=data_dir), migrate=False)
    rng = random.Random(7)
    with hub.db.write() as session:
        owner_id = session.scalar(select(Account.id).where(Account.name == owner))
        now = utcnow()
        rows, tags = [], []
        for i in range(n):
            repo_type = "model" if i % 3 else "dataset"
            task, lib, lic = rng.choice(TASKS), rng.choice(LIBRARIES), rng.choice(LICENSES)
            lang = rng.choice(LANGUAGES)
            row_tags = [task, lib, f"license:{lic}", lang if repo_type == "model" else f"language:{lang}"]
            rows.append(
                {
                    "type": repo_type,
                    "owner_id": owner_id,
                    "namespace": owner,
                    "name": f"syn-{i}",
                    "full_id": f"{owner}/syn-{i}",
                    "storage_key": secrets.token_hex(16),
                    "private": i % 50 == 0,
                    "created_at": now,
                    "last_modified": now,
                    "downloads": rng.randint(0, 100_000),
                    "likes": rng.randint(0, 500),
                    "tags": row_tags,
                    "pipeline_tag": task if repo_type == "model" else None,
                    "library_name": lib if repo_type == "model" else None,
                    "card_data": {"license": lic, "language": lang},
                }
            )
        session.execute(insert(Repo), rows)
        ids = dict(session.execute(select(Repo.full_id, Repo.id).where(Repo.name.like("syn-%"))).all())
        for row in rows:
            tags.extend({"repo_id": ids[row["full_id"]], "tag": t} for t in row["tags"])
        session.execute(insert(RepoTag), tags)
    hub.close()


def safetensors(n_tensors: int = 200) -> bytes:
    header = {
        f"layer.{i}.weight": {"dtype": "F32", "shape": [16, 16], "data_offsets": [i * 1024, (i + 1) * 1024]}
        for i in range(n_tensors)
    }
    raw = orjson.dumps(header)
    return struct.pack("<Q", len(raw)) + raw + b"\0" * (n_tensors * 1024)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    from huggingface_hub import CommitOperationAdd, HfApi

    with haven() as h:
        t0 = time.perf_counter()
        load_synthetic(h.server.data_dir, h.user, args.repos)
        print(f"loaded {args.repos} synthetic repositories in {time.perf_counter() - t0:.1f} s")
        api = HfApi(endpoint=h.server.url, token=h.token)
        repo = f"{h.user}/model"
        api.create_repo(repo)
        ops = [CommitOperationAdd("README.md", CARD.encode()), CommitOperationAdd("model.safetensors", safetensors())]
        ops += [CommitOperationAdd(f"src/file{i}.py", f"x = {i}\n".encode()) for i in range(20)]
        api.create_commit(repo, ops, commit_message="bench model")
        pages = {
            "health (baseline)": "/api/health",
            "home": "/",
            "listing /models": "/models",
            "listing search+facet": "/models?search=syn-1&task=translation&sort=downloads",
            "model page": f"/{repo}",
            "files tab": f"/{repo}/tree/main",
            "safetensors file": f"/{repo}/blob/main/model.safetensors",
        }
        times: dict[str, list[float]] = {k: [] for k in pages}
        sizes: dict[str, int] = {}
        with httpx.Client(base_url=h.server.url, headers={"accept": "text/html"}) as client:
            for url in pages.values():  # warm up
                for _ in range(5):
                    assert client.get(url).status_code == 200, url
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
