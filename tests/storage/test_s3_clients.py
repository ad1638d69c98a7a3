"""Haven on S3 with the other transfer clients: hf_xet (xorbs stored in the bucket, reconstructions pointing
at presigned xorb URLs) and git-lfs (push and clone through presigned PUTs and GETs)."""

from __future__ import annotations

import hashlib
import json
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from tests.cas._xet import OPS
from tests.clients._run import run_script
from tests.conftest import Hub
from tests.git.conftest import Git, url
from tests.storage.conftest import S3Server
from tests.storage.test_s3_hub import batch, new_repo, stored_keys

MB = 1024 * 1024


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_xet_upload_and_download(
    s3_hub: Hub, moto_server: S3Server, s3_bucket: str, xet_client_env: None, tmp_path: Path
) -> None:
    repo_id = new_repo(s3_hub)
    data = os.urandom(3 * MB) + bytes(2 * MB)
    (tmp_path / "model.bin").write_bytes(data)
    before = stored_keys(moto_server, s3_bucket, "haven/xorbs/")
    upload = {"op": "upload_file", "repo": repo_id, "src": str(tmp_path / "model.bin"), "dst": "model.bin"}
    run_script(s3_hub, OPS, json.dumps(upload), home=tmp_path / "up")
    assert stored_keys(moto_server, s3_bucket, "haven/xorbs/") - before  # the xorbs went to the bucket

    [entry] = s3_hub.api("alice").get_paths_info(repo_id, ["model.bin"], expand=True)
    assert entry.xet_hash and entry.lfs is not None and entry.lfs.sha256 == sha(data)
    token = httpx.get(
        f"{s3_hub.url}/api/models/{repo_id}/xet-read-token/main",
        headers={"Authorization": f"Bearer {s3_hub.tokens['alice']}"},
    ).json()["accessToken"]
    plan = httpx.get(
        f"{s3_hub.url}/_xet/v2/reconstructions/{entry.xet_hash}", headers={"Authorization": f"Bearer {token}"}
    ).json()
    fetches = [f for items in plan["xorbs"].values() for f in items]
    assert fetches and all(urlsplit(f["url"]).port == moto_server.port for f in fetches)
    first = fetches[0]["ranges"][0]["bytes"]
    part = httpx.get(fetches[0]["url"], headers={"Range": f"bytes={first['start']}-{first['end']}"})
    assert part.status_code == 206 and len(part.content) == first["end"] - first["start"] + 1

    download = {"op": "download", "repo": repo_id, "file": "model.bin"}
    [got] = run_script(s3_hub, OPS, json.dumps(download), home=tmp_path / "down")
    assert got == {"sha256": sha(data), "size": len(data)}
    # A client without Xet gets the same bytes, rebuilt by Haven from the xorbs in the bucket.
    r = httpx.get(f"{s3_hub.url}/{repo_id}/resolve/main/model.bin", follow_redirects=True)
    assert r.status_code == 200 and sha(r.content) == sha(data)
    # So does git-lfs: its batch download points at Haven for an object that is only Xet chunks.
    [obj] = batch(s3_hub, repo_id, "download", [{"oid": sha(data), "size": len(data)}]).json()["objects"]
    href = obj["actions"]["download"]["href"]
    assert urlsplit(href).port == urlsplit(s3_hub.url).port and sha(httpx.get(href).content) == sha(data)


def test_git_lfs_push_and_clone(s3_hub: Hub, moto_server: S3Server, s3_bucket: str, git: Git, tmp_path: Path) -> None:
    repo_id = f"alice/g{uuid.uuid4().hex[:10]}"
    s3_hub.api("alice").create_repo(repo_id)
    work = tmp_path / "work"
    git.run("clone", "-q", url(s3_hub, repo_id, "alice"), str(work))
    data = os.urandom(3 * MB)
    (work / "model.bin").write_bytes(data)  # tracked by *.bin in the default .gitattributes
    git.commit_all(work, "weights")
    git.run("push", "-q", "origin", "main", cwd=work)
    oid = sha(data)
    assert f"haven/blobs/sha256/{oid[:2]}/{oid[2:4]}/{oid}" in stored_keys(moto_server, s3_bucket, "haven/blobs/")

    again = tmp_path / "again"
    git.run("clone", "-q", url(s3_hub, repo_id), str(again))
    assert (again / "model.bin").read_bytes() == data
