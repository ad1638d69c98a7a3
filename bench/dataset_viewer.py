"""Dataset viewer at scale: a synthetic Parquet dataset of --gb GB is pushed to Haven, converted by the
viewer job, then paged and searched over HTTP; the same reads run on DuckDB directly over the same files.

Reports: conversion time (commit -> viewer ready) and the conversion child's peak RSS; /rows at offset
10,000,000 (or the last page when the dataset has fewer rows) and /search p50 over HTTP; DuckDB directly
(same query, same files, one thread, in this process) for the ratio.

Run: /work/venv/bin/python bench/dataset_viewer.py [--gb 5] [--queries 20] [--keep DIR [--prepare-only]]
"""

from __future__ import annotations

import argparse
import json
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
VOCAB = 20_000
OFFSET = 10_000_000


def generate(directory: Path, target: int) -> int:
    """Parquet shards of (id, text of 8 random words, score, label) until `target` bytes; returns rows.

    Words are drawn as `min(zipf(1.3) - 1, 19,999)` (some words are everywhere, w19999 collects the tail) by
    inverting the distribution's table, and every word is 6 bytes, so each text is one fixed-width row of a
    byte matrix: minutes for 5 GB instead of an hour of rejection sampling and string joins."""
    rng = np.random.default_rng(0)
    spelled = [f"w{i:05d} ".encode() for i in range(VOCAB)] + [b"needle "]
    vocab = np.frombuffer(b"".join(spelled), np.uint8).reshape(VOCAB + 1, 7)
    zeta = 3.9319  # zeta(1.3): what the last word collects is the tail beyond rank 20,000
    cdf = np.cumsum(np.arange(1, VOCAB, dtype=np.float64) ** -1.3 / zeta)
    # u -> word for u drawn from 2**25 equal slices of [0, 1): one lookup per word instead of a binary search.
    word_at = np.searchsorted(cdf, (np.arange(2**25) + 0.5) / 2**25, side="right").astype(np.int16)
    directory.mkdir(parents=True)
    written, rows, shard = 0, 0, 0
    width = WORDS * 7 - 1
    while written < target:
        n = ROWS_PER_SHARD
        picks = word_at[rng.integers(0, 2**25, (n, WORDS))]
        picks[rng.random(n) < 2e-5, 3] = VOCAB  # "needle" in 1 row of ~50,000
        text = np.ascontiguousarray(vocab[picks].reshape(n, WORDS * 7)[:, :width])  # words and spaces
        offsets = pa.py_buffer((np.arange(n + 1, dtype=np.int32) * width).tobytes())
        strings = pa.Array.from_buffers(pa.string(), n, [None, offsets, pa.py_buffer(text.tobytes())])
        table = pa.table({"id": pa.array(np.arange(rows, rows + n)), "text": strings,
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
    parser = argparse.ArgumentParser()
    parser.add_argument("--gb", type=float, default=0.5)
    parser.add_argument("--queries", type=int, default=20)
    parser.add_argument("--keep", type=Path, help="keep the data and the converted hub here; reuse them next time")
    parser.add_argument("--prepare-only", action="store_true", help="generate, push and convert, then stop")
    parser.add_argument("--split-dir", type=Path, help="time the query layer in-process on a converted split here")
    args = parser.parse_args()
    if args.split_dir:
        return in_process(args.split_dir, args.queries)
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-viewer-"))
    try:
        run(work, args)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)  # the generated dataset (several GB)


def run(work: Path, args: argparse.Namespace) -> None:
    """Generation, upload and conversion (niced, outside the bench lock: `--prepare-only --keep DIR`), then
    the timed reads (under the lock: `--keep DIR` again finds everything done)."""
    work.mkdir(parents=True, exist_ok=True)
    done = work / "prepared.json"
    env = {"HAVEN_VIEWER_MAX_BYTES": str(10**13), "HAVEN_VIEWER_JOB_TIMEOUT": "36000"}
    with haven(env=env, keep=work / "hub") as h:
        if not done.exists():
            done.write_text(json.dumps(prepare(work, h, args.gb)))
        prepared = json.loads(done.read_text())
        print(", ".join(f"{k} {v}" for k, v in prepared.items()), flush=True)
        if not args.prepare_only:
            client = httpx.Client(
                base_url=f"{h.url}/datasets-server", headers={"Authorization": f"Bearer {h.token}"}, timeout=300
            )
            report(client, h, prepared["repo"], prepared["rows"], args.queries)


def prepare(work: Path, h, gb: float) -> dict:  # type: ignore[no-untyped-def]
    """Generate the dataset, push it and wait for its conversion: what was measured on the way."""
    check_disk(work, int(gb * GIB * 3.5))
    shutil.rmtree(work / "data", ignore_errors=True)
    t = time.perf_counter()
    rows = generate(work / "data", int(gb * 1e9))
    size = sum(p.stat().st_size for p in (work / "data").iterdir())
    out = {"generated_gb": round(size / 1e9, 2), "rows": rows, "generate_s": round(time.perf_counter() - t)}
    print(out, flush=True)
    api = h.api()
    repo = api.create_repo("synthetic", repo_type="dataset", exist_ok=True).repo_id
    t = time.perf_counter()
    api.upload_folder(folder_path=str(work / "data"), path_in_repo="data", repo_id=repo, repo_type="dataset")
    out.update(repo=repo, upload_s=round(time.perf_counter() - t))
    peak = PeakRss()
    t = time.perf_counter()
    client = httpx.Client(base_url=f"{h.url}/datasets-server", headers={"Authorization": f"Bearer {h.token}"})
    while not client.get("/is-valid", params={"dataset": repo}).json().get("viewer"):
        time.sleep(0.5)
    convert_s = time.perf_counter() - t
    out.update(conversion_s=round(convert_s), child_peak_rss_mib=round(peak.stop() / 2**20))
    out.update(load_average=os.getloadavg()[0], finished=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    shutil.rmtree(work / "data", ignore_errors=True)  # the hub holds the pushed and converted files
    return out


def report(client: httpx.Client, h, repo: str, rows: int, n: int) -> None:  # type: ignore[no-untyped-def]
    from haven.config import Settings
    from haven.hub import Hub

    offset = min(OFFSET, rows - 100)
    base = {"dataset": repo, "config": "default", "split": "train"}
    files = client.get("/parquet", params={"dataset": repo}).json()["parquet_files"]
    print(f"converted files: {len(files)}, {sum(f['size'] for f in files) / 1e9:.2f} GB")
    split = _split(h, repo)
    index = split.get("search_index") or {}
    print(
        f"search index: {index.get('size', 0) / 1e6:.1f} MB, {index.get('words', 0):,} words, {index.get('postings', 0):,} rows listed",
        flush=True,
    )
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
        t = time.perf_counter()
        r = client.get("/search", params={**base, "query": term, "length": 100})
        first = (time.perf_counter() - t) * 1000  # the first search of the word (nothing of it cached)
        if r.status_code == 504:
            print(f"/search {term!r}: stopped at the query timeout ({r.json()['error']})", flush=True)
            continue
        body = r.json()
        xs = timed(lambda t=term: client.get("/search", params={**base, "query": t, "length": 100}), max(n // 4, 3))
        sql = f"SELECT * FROM read_parquet({listed}) WHERE contains(lower(text), '{term}') LIMIT 100"
        d = timed(lambda q=sql: con.sql(q).fetchall(), 1 if not body["rows"] else 3)  # a full scan: once
        exact = "" if "num_rows_total_is_lower_bound" not in body else " (count: a lower bound)"
        print(f"/search {term!r}: {len(body['rows'])} rows, total {body['num_rows_total']:,}{exact}: first {first:.0f} ms, p50 {p50(xs):.0f} ms; "
              f"DuckDB page alone {p50(d):.0f} ms; ratio {p50(xs) / p50(d):.2f}", flush=True)  # fmt: skip


def in_process(directory: Path, n: int) -> None:
    """The same reads through haven.viewer.query (no HTTP) on a converted split's directory, e.g. the job's
    output while its statistics are still being computed."""
    from haven.viewer import query
    from haven.viewer.convert import INDEX_FILE
    from haven.viewer.search_index import string_columns

    paths = tuple(sorted(directory.glob("*.parquet")))
    rows = tuple(pq.read_metadata(p).num_rows for p in paths)
    schema = pq.read_schema(paths[0])
    files = query.SplitFiles(paths, rows, directory / INDEX_FILE, tuple(string_columns(schema)))
    offset, limits = min(OFFSET, sum(rows) - 100), (30.0, 512)
    index = pq.read_table(files.index, columns=["n_rows"]).column(0)
    print(f"{len(paths)} files, {sum(p.stat().st_size for p in paths) / 1e9:.2f} GB, {sum(rows):,} rows; index "
          f"{files.index.stat().st_size / 1e6:.1f} MB, {len(index):,} words, {pc.sum(index).as_py():,} rows listed")  # fmt: skip
    con = duckdb.connect(config={"threads": 1})
    listed = "[" + ", ".join(f"'{p}'" for p in paths) + "]"
    p50 = statistics.median
    ours = timed(lambda: query.read_rows(files, offset, 100), n)
    direct = timed(lambda: con.sql(f"SELECT * FROM read_parquet({listed}) LIMIT 100 OFFSET {offset}").fetchall(), n)
    print(
        f"rows offset {offset:,}: p50 {p50(ours):.1f} ms; DuckDB {p50(direct):.1f} ms; ratio {p50(ours) / p50(direct):.2f}"
    )
    for term in ("w00001", "w00500", "needle", "nothing-matches"):
        page = query.search(files, list(schema.names), term, 0, 100, limits)
        ours = timed(lambda t=term: query.search(files, list(schema.names), t, 0, 100, limits), max(n // 4, 3))
        sql = f"SELECT * FROM read_parquet({listed}) WHERE contains(lower(text), '{term}') LIMIT 100"
        d = timed(lambda q=sql: con.sql(q).fetchall(), 3)
        print(f"search {term!r}: {page.table.num_rows} rows, total {page.total:,}{'' if page.exact else ' (lower bound)'}: "
              f"p50 {p50(ours):.0f} ms; DuckDB page alone {p50(d):.0f} ms; ratio {p50(ours) / p50(d):.2f}", flush=True)  # fmt: skip


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
