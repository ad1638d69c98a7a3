"""Seed the fixture repositories every scenario reads, with the main venv's (known good) huggingface_hub.

usage: python compat/seed.py MANIFEST.json --users USERS.json [--xet]
Without --xet (run with HF_HUB_DISABLE_XET=1) it seeds the LFS-stored model, the private repos and the datasets;
with --xet (hf_xet on) the Xet-stored model. Each run merges what it made into MANIFEST.json.

A model fixture: commit A (tag v1) with a card, config.json, sub/small.txt, an empty file and a 12 MiB large.bin;
branch dev from A adding dev.txt; commit B on main changing config.json and large.bin and adding new.txt.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import random
import uuid
from pathlib import Path
from typing import Any

LARGE = 12 * 1024 * 1024  # above both the 10 MB LFS threshold and huggingface_hub's regular-upload limit


def large(seed: int) -> bytes:
    return random.Random(seed).randbytes(LARGE)


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def card(title: str, **meta: Any) -> bytes:
    yaml = "".join(f"{k}: {json.dumps(v)}\n" for k, v in meta.items())
    return f"---\n{yaml}---\n# {title}\n".encode()


def commit(api: Any, repo_id: str, files: dict[str, bytes], message: str, **kw: Any) -> str:
    from huggingface_hub import CommitOperationAdd

    ops = [CommitOperationAdd(path_in_repo=p, path_or_fileobj=data) for p, data in files.items()]
    return api.create_commit(repo_id, operations=ops, commit_message=message, **kw).oid


def seed_model(api: Any, repo_id: str, salt: int, **kw: Any) -> dict[str, Any]:
    """The three-revision model fixture; returns {rev: {"sha": commit, "files": {path: sha256}}}."""
    api.create_repo(repo_id, exist_ok=True, **kw)
    v1 = {
        "README.md": card("Compat fixture", tags=["compat-fixture"], license="mit"),
        "config.json": json.dumps({"model_type": "compat", "version": 1}).encode(),
        "sub/small.txt": b"a small text file\n" * 10,
        "empty.txt": b"",
        "large.bin": large(salt),
    }
    a = commit(api, repo_id, v1, "version 1")
    api.create_tag(repo_id, tag="v1", revision=a)
    api.create_branch(repo_id, branch="dev", revision=a)
    dev = {"dev.txt": b"only on the dev branch\n"}
    d = commit(api, repo_id, dev, "dev work", revision="dev")
    main = {"config.json": json.dumps({"model_type": "compat", "version": 2}).encode(), "large.bin": large(salt + 1)}
    main["new.txt"] = b"added in version 2\n"
    b = commit(api, repo_id, main, "version 2")
    hashes = {p: sha(data) for p, data in v1.items()}
    # Plus what the hub put there itself (the .gitattributes of a new repository), hashed as served.
    hashes.update({p: served(api, repo_id, p, a) for p in api.list_repo_files(repo_id, revision=a) if p not in v1})
    return {
        "repo_id": repo_id,
        "revisions": {
            "v1": {"sha": a, "files": hashes},
            "dev": {"sha": d, "files": {**hashes, **{p: sha(x) for p, x in dev.items()}}},
            "main": {"sha": b, "files": {**hashes, **{p: sha(x) for p, x in main.items()}}},
        },
    }


def served(api: Any, repo_id: str, path: str, revision: str) -> str:
    import httpx

    url = f"{api.endpoint}/{repo_id}/resolve/{revision}/{path}"
    resp = httpx.get(url, headers={"Authorization": f"Bearer {api.token}"}, follow_redirects=True)
    resp.raise_for_status()
    return sha(resp.content)


def rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    return [
        {"id": offset + i, "text": f"row {offset + i}, with a comma", "score": (offset + i) * 0.5} for i in range(n)
    ]


def to_csv(data: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(data[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(data)
    return out.getvalue().encode()


def to_parquet(data: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    out = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(data), out, row_group_size=4)
    return out.getvalue()


def seed_datasets(api: Any, uid: str) -> dict[str, Any]:
    """A CSV dataset (data/{train,test}.csv, tag v1 before train grows) and a Parquet one in push_to_hub's layout."""
    out = {}
    csv_id = f"alice/compat-csv-{uid}"
    api.create_repo(csv_id, repo_type="dataset")
    train, test = rows(12), rows(3, 100)
    readme = card("CSV fixture", license="mit")
    files = {"README.md": readme, "data/train.csv": to_csv(train), "data/test.csv": to_csv(test)}
    first = commit(api, csv_id, files, "csv data", repo_type="dataset")
    api.create_tag(csv_id, tag="v1", revision=first, repo_type="dataset")
    grown = rows(15)
    commit(api, csv_id, {"data/train.csv": to_csv(grown)}, "more rows", repo_type="dataset")
    out["csv"] = {
        "repo_id": csv_id,
        "revisions": {"v1": {"train": train, "test": test}, "main": {"train": grown, "test": test}},
    }
    pq_id = f"alice/compat-parquet-{uid}"
    api.create_repo(pq_id, repo_type="dataset")
    files = {
        "data/train-00000-of-00001.parquet": to_parquet(train),
        "data/test-00000-of-00001.parquet": to_parquet(test),
    }
    commit(api, pq_id, files, "parquet data", repo_type="dataset")
    out["parquet"] = {"repo_id": pq_id, "revisions": {"main": {"train": train, "test": test}}}
    return out


def seed_private(api: Any, repo_id: str, salt: int) -> dict[str, Any]:
    api.create_repo(repo_id, private=True)
    files = {"config.json": b'{"secret": true}', "weights.bin": large(salt)}
    oid = commit(api, repo_id, files, "private files")
    return {"repo_id": repo_id, "sha": oid, "files": {p: sha(x) for p, x in files.items()}}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--users", type=Path, required=True)
    parser.add_argument("--xet", action="store_true")
    args = parser.parse_args()
    from huggingface_hub import HfApi

    users = json.loads(args.users.read_text())
    api = HfApi(endpoint=os.environ["HF_ENDPOINT"], token=users["alice"]["token"])
    manifest = json.loads(args.manifest.read_text()) if args.manifest.exists() else {"users": users, "models": {}}
    uid = uuid.uuid4().hex[:6]
    if args.xet:
        manifest["models"]["xet"] = seed_model(api, f"alice/compat-xet-{uid}", 20)
    else:
        manifest["models"]["lfs"] = seed_model(api, f"alice/compat-lfs-{uid}", 10)
        manifest["private"] = seed_private(api, f"alice/compat-private-{uid}", 30)
        manifest["org_private"] = seed_private(api, f"acme/compat-private-{uid}", 31)
        manifest["datasets"] = seed_datasets(api, uid)
    args.manifest.write_text(json.dumps(manifest, indent=1))


if __name__ == "__main__":
    main()
