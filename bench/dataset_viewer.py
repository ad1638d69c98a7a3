"""Dataset viewer at scale: a synthetic Parquet dataset of --gb GB is pushed to Haven, converted by the
viewer job, then paged and searched over HTTP; the same reads run on DuckDB directly over the same files.

Reports: conversion time (commit -> viewer ready) and the conversion child's peak RSS; /rows at offset
10,000,000 (or the last page when the dataset has fewer rows) and /search p50 over HTTP; DuckDB directly
(same query, same files, one thread, in this process) for the ratio.

Run: /work/venv/bin/python bench/dataset_viewer.py [--gb 5] [--queries 20]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from common import GIB, check_disk, haven

ROWS_PER_SHARD = 2_000_000
WORDS = 8
OFFSET = 10_000_000


def generate(directory: Path, target: int) -> int:
    """Parquet shards of (id, text of 8 random words, score, label) until `target` bytes; returns rows."""
    rng = np.random.default_rng(0)
    vocab = pa.array([f"w{i:05d}" for i in range(20_000)] + ["needle"])
    directory.mkdir(parents=True)
    written, rows, shard = 0, 0, 0
    while written < target:
        n = ROWS_PER_SHARD
        # Zipf-ish word choice: some words are everywhere, "needle" (the last) in 1 row of ~50,000.
        picks = [np.minimum(rng.zipf(1.3, n) - 1, 19_999) for _ in range(WORDS)]
        picks[3][rng.random(n) < 2e-5] = 20_000
        text = pc.binary_join_element_wise(*[vocab.take(pa.array(p)) for p in picks], " ")
        table = pa.table({"id": pa.array(np.arange(rows, rows + n)), "text": text,
                          "score": pa.array(rng.random(n)), "label": pa.array(rng.integers(0, 10, n))})  # fmt: skip
        path = directory / f"train-{shard:05d}.parquet"
        pq.write_table(table, path, compression="snappy")
        written += path.stat().st_size
        rows, shard = rows + n, shard + 1
    return rows


class PeakRss:
    """Samples the RSS of the conversion child (python -m haven.viewer.convert) every 0.1 s."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            for pid in os.listdir("/proc"):
                if pid.isdigit():
                    try:
                        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
                        if b"haven.viewer.convert" in cmd:
                            rss = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
                            self.peak = max(self.peak, rss)
                    except (FileNotFoundError, ProcessLookupError, PermissionError):
                        continue

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out


def main() -> None:
    work = Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    try:
        run(work)
    finally:
        shutil.rmtree(work, ignore_errors=True)  # the generated dataset (several GB)


def run(work: Path) -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=0.5)
    parser.add_argument("--queries", type=int, default=20)
    args = parser.parse_args()
    check_disk(work, int(args.gb * GIB * 3.5))
    t = time.perf_counter()
    rows = generate(work / "data", int(args.gb * 1e9))
    size = sum(p.stat().st_size for p in (work / "data").iterdir())
    print(f"generated {size / 1e9:.2f} GB, {rows:,} rows in {time.perf_counter() - t:.0f} s")
    env = {"HAVEN_VIEWER_MAX_BYTES": str(10**13), "HAVEN_VIEWER_JOB_TIMEOUT": "36000"}
    with haven(env=env) as h:
        api = h.api()
        repo = api.create_repo("synthetic", repo_type="dataset").repo_id
        t = time.perf_counter()
        api.upload_folder(folder_path=str(work / "data"), path_in_repo="data", repo_id=repo, repo_type="dataset")
        print(f"upload {time.perf_counter() - t:.0f} s")
        peak = PeakRss()
        t = time.perf_counter()
        client = httpx.Client(
            base_url=f"{h.url}/datasets-server", headers={"Authorization": f"Bearer {h.token}"}, timeout=300
        )
        while not client.get("/is-valid", params={"dataset": repo}).json().get("viewer"):
            time.sleep(0.5)
        convert_s = time.perf_counter() - t
        rss = peak.stop()
        print(
            f"conversion {convert_s:.0f} s ({size / 1e6 / convert_s:.0f} MB/s of Parquet input), child peak RSS {rss / 2**20:.0f} MiB"
        )
        report(client, h, repo, rows, args.queries)


def report(client: httpx.Client, h, repo: str, rows: int, n: int) -> None:  # type: ignore[no-untyped-def]
    from haven.config import Settings
    from haven.hub import Hub

    offset = min(OFFSET, rows - 100)
    base = {"dataset": repo, "config": "default", "split": "train"}
    files = client.get("/parquet", params={"dataset": repo}).json()["parquet_files"]
    print(f"converted files: {len(files)}, {sum(f['size'] for f in files) / 1e9:.2f} GB")
    split = _split(h, repo)
    index = split.get("search_index") or {}
    print(f"search index: {index.get('size', 0) / 1e6:.1f} MB, {index.get('words', 0):,} words", flush=True)
    t = time.perf_counter()
    r = client.get("/rows", params={**base, "offset": offset, "length": 100}).json()
    print(f"first /rows (cold footers) {1000 * (time.perf_counter() - t):.0f} ms", flush=True)
    assert r["rows"][0]["row_idx"] == offset and r["rows"][0]["row"]["id"] == offset, r["rows"][0]
    rows_ms = timed(lambda: client.get("/rows", params={**base, "offset": offset, "length": 100}).raise_for_status(), n)
    hub = Hub.open(Settings(data_dir=h.server.data_dir))
    listed = "[" + ", ".join(f"'{hub.blobs.local_path(f['oid'])}'" for f in split["files"]) + "]"
    con = duckdb.connect(config={"threads": 1})  # DuckDB directly over the same converted files, one thread
    direct = timed(lambda: con.sql(f"SELECT * FROM read_parquet({listed}) LIMIT 100 OFFSET {offset}").fetchall(), n)
    p50 = statistics.median
    print(f"/rows offset {offset:,}: p50 {p50(rows_ms):.1f} ms; DuckDB LIMIT/OFFSET {p50(direct):.1f} ms; "
          f"ratio {p50(rows_ms) / p50(direct):.2f}", flush=True)  # fmt: skip
    for term in ("w00001", "w00500", "needle", "nothing-matches"):
        r = client.get("/search", params={**base, "query": term, "length": 100})
        if r.status_code == 504:
            print(f"/search {term!r}: stopped at the query timeout ({r.json()['error']})", flush=True)
            continue
        body = r.json()
        xs = timed(lambda t=term: client.get("/search", params={**base, "query": t, "length": 100}), max(n // 4, 3))
        sql = f"SELECT * FROM read_parquet({listed}) WHERE contains(lower(text), '{term}') LIMIT 100"
        d = timed(lambda q=sql: con.sql(q).fetchall(), max(n // 4, 3))
        exact = "" if "num_rows_total_is_lower_bound" not in body else " (count: a lower bound)"
        print(f"/search {term!r}: {len(body['rows'])} rows, total {body['num_rows_total']:,}{exact}: p50 {p50(xs):.0f} ms; "
              f"DuckDB page alone {p50(d):.0f} ms; ratio {p50(xs) / p50(d):.2f}", flush=True)  # fmt: skip


def _split(h, repo: str) -> dict:  # type: ignore[no-untyped-def]
    """The converted train split as the viewer job recorded it (files, search index)."""
    from sqlalchemy import select

    from haven.config import Settings
    from haven.hub import Hub
    from haven.repos.models import Repo
    from haven.viewer.models import DatasetViewer

    hub = Hub.open(Settings(data_dir=h.server.data_dir))
    with hub.db.read() as s:
        rid = s.scalar(select(Repo.id).where(Repo.full_id == repo))
        manifest = s.get(DatasetViewer, rid).manifest
    return manifest["configs"][0]["splits"][0]


if __name__ == "__main__":
    main()
