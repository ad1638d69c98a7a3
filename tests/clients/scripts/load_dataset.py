"""Load a dataset from the hub, normally and streaming; emit the rows per split (or the error).

usage: load_dataset.py REPO_ID [--name CONFIG] [--token TOKEN | --no-token] [--revision REV] [--no-streaming]
                       [--digest]  (emit {"rows": n, "sha256": of the JSON rows} per split instead of the rows)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os

# Streaming imports torch when it is installed (seconds per process); these scripts need none of it.
os.environ.setdefault("USE_TORCH", "0")

from _result import emit
from datasets import load_dataset


def digest(rows: list[dict]) -> dict:
    return {"rows": len(rows), "sha256": hashlib.sha256(json.dumps(rows).encode()).hexdigest()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo_id")
    parser.add_argument("--name")
    parser.add_argument("--token")
    parser.add_argument("--no-token", action="store_true")
    parser.add_argument("--revision")
    parser.add_argument("--no-streaming", action="store_true")
    parser.add_argument("--digest", action="store_true")
    args = parser.parse_args()
    token: str | bool | None = False if args.no_token else args.token
    result: dict[str, object] = {}
    # Streaming first, so its file listing is not served from the normal load's in-memory cache.
    modes = [("normal", False)] if args.no_streaming else [("streaming", True), ("normal", False)]
    for mode, streaming in modes:
        try:
            loaded = load_dataset(args.repo_id, args.name, revision=args.revision, token=token, streaming=streaming)
        except Exception as exc:
            result[mode] = {"error": f"{type(exc).__name__}: {exc}"}
            continue
        rows = {split: [dict(row) for row in ds] for split, ds in loaded.items()}
        result[mode] = {split: digest(r) for split, r in rows.items()} if args.digest else rows
    emit(result)


if __name__ == "__main__":
    main()
