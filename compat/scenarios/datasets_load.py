"""datasets.load_dataset of a CSV repo (main and tag v1) and a Parquet repo, normal and streaming."""
# requires: datasets

import os

os.environ.setdefault("USE_TORCH", "0")  # streaming would import torch when installed

from _common import check, fixtures, run, step, token


def load(repo_id: str, streaming: bool, **kw) -> dict:
    from datasets import load_dataset

    loaded = load_dataset(repo_id, streaming=streaming, **kw)
    return {split: [dict(row) for row in ds] for split, ds in loaded.items()}


def main() -> None:
    fx = fixtures()["datasets"]
    for kind in ("csv", "parquet"):
        repo_id = fx[kind]["repo_id"]
        for rev, expected in fx[kind]["revisions"].items():
            for streaming in (True, False):
                step(f"load_dataset {kind} revision={rev} streaming={streaming}")
                got = load(repo_id, streaming, revision=None if rev == "main" else rev)
                check(got == expected, f"rows differ: got {str(got)[:300]}")
    step("load_dataset of a repo that does not exist")
    from datasets import load_dataset

    try:
        load_dataset(fx["csv"]["repo_id"] + "-missing")
    except Exception as exc:  # DatasetNotFoundError (a FileNotFoundError) in every release
        check(isinstance(exc, FileNotFoundError), f"missing dataset raised {type(exc).__name__}: {exc}")
    else:
        raise AssertionError("a missing dataset loaded")
    step("load_dataset with an explicit read token")
    got = load(fx["csv"]["repo_id"], False, token=token("alice", read=True))
    check(got == fx["csv"]["revisions"]["main"], "rows differ with a read token")


if __name__ == "__main__":
    run(main)
