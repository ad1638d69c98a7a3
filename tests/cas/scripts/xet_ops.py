"""Uploads and downloads with the stock huggingface_hub (hf_xet when installed and not disabled).

usage: xet_ops.py OP_JSON...   each one of
  {"op": "upload_file", "repo": ID, "src": LOCAL_FILE, "dst": PATH_IN_REPO, "revision"?: BRANCH}
  {"op": "upload_folder", "repo": ID, "src": LOCAL_DIR, "dst"?: PATH_IN_REPO}
  {"op": "download", "repo": ID, "file": PATH, "revision"?: REV}        -> {"sha256", "size"}
  {"op": "snapshot", "repo": ID, "revision"?: REV}                      -> {path: sha256}
(all take an optional "type": model | dataset). Prints RESULT:<json list, one entry per op>.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download, snapshot_download


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def run(api: HfApi, op: dict) -> object:
    kind, repo, rtype, rev = op["op"], op["repo"], op.get("type", "model"), op.get("revision")
    if kind == "upload_file":
        info = api.upload_file(
            path_or_fileobj=op["src"], path_in_repo=op["dst"], repo_id=repo, repo_type=rtype, revision=rev
        )
        return info.oid
    if kind == "upload_folder":
        info = api.upload_folder(folder_path=op["src"], path_in_repo=op.get("dst"), repo_id=repo, repo_type=rtype)
        return info.oid
    if kind == "download":
        path = Path(hf_hub_download(repo, op["file"], repo_type=rtype, revision=rev))
        return {"sha256": sha256(path), "size": path.stat().st_size}
    if kind == "snapshot":
        root = Path(snapshot_download(repo, repo_type=rtype, revision=rev))
        return {p.relative_to(root).as_posix(): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}
    raise SystemExit(f"unknown op {kind!r}")


def main() -> None:
    api = HfApi()
    results = [run(api, json.loads(arg)) for arg in sys.argv[1:]]
    print("RESULT:" + json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
