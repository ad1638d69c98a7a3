"""huggingface_hub in a subprocess (HF_ENDPOINT and HF_HUB_DISABLE_XET are read at import).

usage: client.py upload REPO_ID DIR [--type T] [--private]     -> {"commit": sha}
       client.py download REPO_ID [--type T] [--revision R]   -> {"commit": sha, "files": {path: sha256}}
       client.py file REPO_ID PATH [--type T] [--revision R]  -> {"sha256": ..., "xet": bool}
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

from huggingface_hub import HfApi, hf_hub_download, snapshot_download


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("action")
    p.add_argument("repo_id")
    p.add_argument("arg", nargs="?")
    p.add_argument("--type", default="model")
    p.add_argument("--revision")
    p.add_argument("--private", action="store_true")
    a = p.parse_args()
    if a.action == "upload":
        api = HfApi()
        api.create_repo(a.repo_id, repo_type=a.type, private=a.private, exist_ok=True)
        info = api.upload_folder(repo_id=a.repo_id, folder_path=a.arg, repo_type=a.type)
        result = {"commit": info.oid}
    elif a.action == "download":
        root = Path(snapshot_download(a.repo_id, repo_type=a.type, revision=a.revision))
        files = {str(f.relative_to(root)): digest(f) for f in sorted(root.rglob("*")) if f.is_file()}
        result = {"commit": root.name, "files": files}
    else:
        path = hf_hub_download(a.repo_id, a.arg, repo_type=a.type, revision=a.revision)
        result = {"sha256": digest(Path(path))}
    print("RESULT:" + json.dumps(result), flush=True)


if __name__ == "__main__":
    sys.exit(main())
