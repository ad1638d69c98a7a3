"""Throughput of the file-metadata job: how fast the queue of "describe this new head of main" jobs drains.

N repositories each get one commit of a safetensors file (T tensors, read by header only) and a config.json.

1. Baseline: the N commits with the job workers off (HAVEN_JOB_WORKERS=0): commits/s, the queue fills.
2. Drain: the server restarts with one worker thread; it picks the N queued jobs up (jobs survive restarts)
   and the time until the queue is empty gives jobs/s.
3. Together: N more commits (new repositories) with the worker on: commits/s (the commit path's cost of the
   worker running beside it, in the same process and on the same 2 cores), and how long after the last
   commit the queue is empty.
The three steps repeat for --rounds rounds, so the growing database and the shared machine's noise fall
on both modes alike; medians are reported.

Run: /work/venv/bin/python bench/metadata_jobs.py [--repos 100] [--tensors 200] [--rounds 3]
"""

from __future__ import annotations

import argparse
import json
import time
import uuid

from common import Haven, fmt_runs, haven, median

from haven.db import Database
from haven.jobs import queue
from haven.metadata import tasks


def _weights(tensors: int) -> bytes:
    import numpy as np
    from safetensors.numpy import save

    return save({f"layer.{i}.weight": np.zeros((16, 16), np.float32) for i in range(tensors)})


def _commits(h: Haven, n: int, weights: bytes) -> float:
    """Seconds for `n` fresh repositories' first commit (create_repo not timed)."""
    from huggingface_hub import CommitOperationAdd

    api = h.api()
    config = json.dumps({"architectures": ["BertForSequenceClassification"], "model_type": "bert"}).encode()
    names = []
    for _ in range(n):
        names.append(api.create_repo(f"m{uuid.uuid4().hex[:10]}").repo_id)
    start = time.perf_counter()
    for repo_id in names:
        ops = [CommitOperationAdd("model.safetensors", weights), CommitOperationAdd("config.json", config)]
        api.create_commit(repo_id, ops, commit_message="weights")
    return time.perf_counter() - start


def _drain(db: Database, timeout: float = 600) -> float:
    """Seconds until no metadata job is waiting or running."""
    start = time.perf_counter()
    while queue.pending(db, tasks.KIND):
        if time.perf_counter() - start > timeout:
            raise SystemExit("the queue did not drain")
        time.sleep(0.02)
    return time.perf_counter() - start


def _restart(h: Haven, workers: int) -> None:
    h.server.stop()
    h.server.extra_env["HAVEN_JOB_WORKERS"] = str(workers)
    h.server.start()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repos", type=int, default=100, help="repositories (commits) per batch")
    parser.add_argument("--tensors", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    weights = _weights(args.tensors)
    n = args.repos
    off, drain, on, lag = [], [], [], []
    with haven(env={"HAVEN_JOB_WORKERS": "0"}) as h:
        db = Database(f"sqlite:///{(h.server.data_dir / 'haven.db').resolve()}")
        for _ in range(args.rounds):  # alternated, so the growing database and the machine's noise hit both
            _restart(h, 0)
            off.append(n / _commits(h, n, weights))
            assert queue.pending(db, tasks.KIND) == n
            _restart(h, 1)
            left = queue.pending(db, tasks.KIND)  # jobs not yet done once the restarted server answers
            drain.append(left / _drain(db))
            on.append(n / _commits(h, n, weights))
            lag.append(_drain(db))
        some = next(iter(h.api().list_models(author=h.user, limit=1))).id
        info = h.api().model_info(some, expand=["safetensors"])
        assert info.safetensors is not None and info.safetensors.total == args.tensors * 256
        db.dispose()
    print(
        f"metadata job: batches of {n} repositories, each one commit of a safetensors file of {args.tensors} "
        f"tensors ({len(weights) / 1e6:.1f} MB) and a config.json; {args.rounds} rounds, medians"
    )
    print(f"  baseline, commits with the job workers off: {median(off):6.1f} commits/s  ({fmt_runs(off, digits=1)})")
    print(
        f"  queue drain after a restart (1 worker):     {median(drain):6.1f} jobs/s     ({fmt_runs(drain, digits=1)})"
    )
    print(f"  commits with the worker running:            {median(on):6.1f} commits/s  ({fmt_runs(on, digits=1)})")
    print(f"  with the worker / baseline:                 {median(on) / median(off):6.2f}x")
    print(f"  queue empty after the last commit:          {median(lag):6.2f} s")


if __name__ == "__main__":
    main()
