"""Load every split of a dataset config with `datasets` and print its features and rows as JSON.

usage: load_rows.py REPO_ID [--name CONFIG] [--revision REV] [--token TOKEN]
Image cells become {"path", "sha256"} of their bytes, so rows compare as JSON.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os

os.environ.setdefault("USE_TORCH", "0")

from datasets import Image, load_dataset


def cell(value: object) -> object:
    if isinstance(value, dict) and set(value) == {"bytes", "path"}:
        data = value["bytes"]
        if data is None and value["path"] and os.path.exists(value["path"]):
            with open(value["path"], "rb") as f:  # a local file datasets did not embed
                data = f.read()
        name = os.path.basename(value["path"] or "")
        return {"name": name, "sha256": hashlib.sha256(data or b"").hexdigest()}
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    return value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("repo_id")
    parser.add_argument("--name")
    parser.add_argument("--revision")
    parser.add_argument("--token")
    args = parser.parse_args()
    loaded = load_dataset(args.repo_id, args.name, revision=args.revision, token=args.token)
    out = {}
    for split, ds in loaded.items():
        for column, feature in ds.features.items():
            if isinstance(feature, Image):
                ds = ds.cast_column(column, Image(decode=False))
        rows = [{k: cell(v) for k, v in row.items()} for row in ds]
        out[split] = {"features": ds.features.to_dict(), "rows": rows}
    print("RESULT:" + json.dumps(out, default=str))


if __name__ == "__main__":
    main()
