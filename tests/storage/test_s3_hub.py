"""Haven on S3, end to end with the real clients: LFS bytes go between the client and the object store
through presigned URLs (never through Haven), and only verified uploads become objects."""

from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from huggingface_hub import hf_hub_download

from tests.conftest import Hub
from tests.storage.conftest import S3_PART, S3Server

LFS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def new_repo(hub: Hub, private: bool = False) -> str:
    repo_id = f"alice/s{uuid.uuid4().hex[:10]}"
    hub.api("alice").create_repo(repo_id, private=private)
    return repo_id


def batch(hub: Hub, repo_id: str, operation: str, objects: list[dict], user: str | None = "alice", **extra: object):
    auth = {"Authorization": f"Bearer {hub.tokens[user]}"} if user else {}
    body = {"operation": operation, "objects": objects, **extra}
    return httpx.post(f"{hub.url}/{repo_id}.git/info/lfs/objects/batch", json=body, headers={**LFS, **auth})


def stored_keys(s3: S3Server, bucket: str, prefix: str) -> set[str]:
    pages = s3.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return {o["Key"] for page in pages for o in page.get("Contents", ())}


def test_upload_and_download_through_presigned_urls(
    s3_hub: Hub, moto_server: S3Server, s3_bucket: str, tmp_path: Path
) -> None:
    repo_id = new_repo(s3_hub)
    data = os.urandom(2 * 1024 * 1024)
    api = s3_hub.api("alice")
    api.upload_file(path_or_fileobj=data, path_in_repo="weights.safetensors", repo_id=repo_id)
    oid = sha(data)
    assert f"haven/blobs/sha256/{oid[:2]}/{oid[2:4]}/{oid}" in stored_keys(moto_server, s3_bucket, "haven/blobs/")
    assert not (s3_hub.server.data_dir / "blobs" / "sha256").exists()  # nothing on Haven's disk

    # The resolve redirect goes to the object store and carries every header the clients read.
    r = httpx.get(f"{s3_hub.url}/{repo_id}/resolve/main/weights.safetensors")
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert (location.hostname, location.port) == ("127.0.0.1", moto_server.port)
    assert "X-Amz-Signature" in location.query
    assert r.headers["x-linked-etag"] == f'"{oid}"' and r.headers["x-linked-size"] == str(len(data))
    assert r.headers["etag"] and len(r.headers["x-repo-commit"]) == 40
    direct = httpx.get(r.headers["location"])
    assert direct.status_code == 200 and direct.content == data
    assert "weights.safetensors" in direct.headers["content-disposition"]
    ranged = httpx.get(r.headers["location"], headers={"Range": "bytes=10-19"})
    assert ranged.status_code == 206 and ranged.content == data[10:20]

    path = hf_hub_download(repo_id, "weights.safetensors", endpoint=s3_hub.url, token=False, cache_dir=tmp_path)
    assert Path(path).read_bytes() == data

    # LFS batch downloads point at the object store too.
    r = batch(s3_hub, repo_id, "download", [{"oid": oid, "size": len(data)}])
    href = r.json()["objects"][0]["actions"]["download"]["href"]
    assert urlsplit(href).port == moto_server.port and httpx.get(href).content == data


def test_large_files_upload_in_s3_multipart_parts(s3_hub: Hub, moto_server: S3Server, tmp_path: Path) -> None:
    repo_id = new_repo(s3_hub)
    data = os.urandom(2 * S3_PART + 123_456)  # three parts of Haven's (S3's smallest) chunk size
    obj = {"oid": sha(data), "size": len(data)}
    offer = batch(s3_hub, repo_id, "upload", [obj], transfers=["basic", "multipart"]).json()
    upload = offer["objects"][0]["actions"]["upload"]
    assert upload["header"]["chunk_size"] == str(S3_PART)
    parts = [upload["header"][str(n)] for n in (1, 2, 3)]
    assert all(urlsplit(p).port == moto_server.port and "uploadId" in p for p in parts)
    assert urlsplit(upload["href"]).port == urlsplit(s3_hub.url).port  # completion is Haven's

    src = tmp_path / "big.bin"
    src.write_bytes(data)
    s3_hub.api("alice").upload_file(path_or_fileobj=src, path_in_repo="big.bin", repo_id=repo_id)
    [info] = s3_hub.api("alice").get_paths_info(repo_id, ["big.bin"])
    assert info.lfs is not None and info.lfs.sha256 == obj["oid"] and info.size == len(data)
    got = hf_hub_download(repo_id, "big.bin", endpoint=s3_hub.url, token=False, cache_dir=tmp_path / "c")
    assert Path(got).read_bytes() == data


def test_a_multipart_upload_with_other_bytes_is_refused(s3_hub: Hub, moto_server: S3Server, s3_bucket: str) -> None:
    repo_id = new_repo(s3_hub)
    claimed = os.urandom(S3_PART + 10)
    sent = os.urandom(len(claimed))
    obj = {"oid": sha(claimed), "size": len(claimed)}
    offer = batch(s3_hub, repo_id, "upload", [obj], transfers=["multipart"]).json()["objects"][0]["actions"]
    header = offer["upload"]["header"]
    etags = []
    for n, start in ((1, 0), (2, S3_PART)):
        r = httpx.put(header[str(n)], content=sent[start : start + S3_PART])
        assert r.status_code == 200
        etags.append({"partNumber": n, "etag": r.headers["etag"]})
    done = httpx.post(offer["upload"]["href"], json={"oid": obj["oid"], "parts": etags})
    assert done.status_code == 400 and "sha256" in done.json()["error"]
    assert httpx.post(offer["verify"]["href"], json=obj).status_code == 404  # nothing was received
    assert stored_keys(moto_server, s3_bucket, "haven/tmp/") == set()  # the rejected bytes are gone
    assert not any(obj["oid"] in k for k in stored_keys(moto_server, s3_bucket, "haven/blobs/"))


def test_a_put_of_other_bytes_is_refused_at_verify(s3_hub: Hub, moto_server: S3Server, s3_bucket: str) -> None:
    repo_id = new_repo(s3_hub)
    claimed, sent = b"what the client promised" * 10, b"what the client really sent" * 10
    obj = {"oid": sha(claimed), "size": len(claimed)}
    actions = batch(s3_hub, repo_id, "upload", [obj]).json()["objects"][0]["actions"]
    assert urlsplit(actions["upload"]["href"]).port == moto_server.port
    assert httpx.put(actions["upload"]["href"], content=sent[: len(claimed)]).status_code == 200
    r = httpx.post(actions["verify"]["href"], json=obj)
    assert r.status_code == 400 and "sha256" in r.json()["error"]
    assert batch(s3_hub, repo_id, "download", [obj]).json()["objects"][0]["error"]["code"] == 404
    assert not any(obj["oid"] in k for k in stored_keys(moto_server, s3_bucket, "haven/"))
    # The verify URL is bound to its upload: another object's signature does not fit.
    forged = actions["verify"]["href"].replace(obj["oid"], sha(sent[: len(claimed)]))
    assert httpx.post(forged, json=obj).status_code == 403


def test_private_repo_urls_need_access(s3_hub: Hub, tmp_path: Path) -> None:
    repo_id = new_repo(s3_hub, private=True)
    data = os.urandom(100_000)
    s3_hub.api("alice").upload_file(path_or_fileobj=data, path_in_repo="secret.safetensors", repo_id=repo_id)
    obj = {"oid": sha(data), "size": len(data)}
    assert httpx.get(f"{s3_hub.url}/{repo_id}/resolve/main/secret.safetensors").status_code == 404
    assert batch(s3_hub, repo_id, "download", [obj], user=None).status_code == 404
    assert batch(s3_hub, repo_id, "download", [obj], user="bob").status_code == 404
    assert httpx.get(f"{s3_hub.url}/api/models/{repo_id}/xet-read-token/main").status_code == 404
    owner = {"Authorization": f"Bearer {s3_hub.tokens['alice']}"}
    r = httpx.get(f"{s3_hub.url}/{repo_id}/resolve/main/secret.safetensors", headers=owner)
    assert r.status_code == 302 and httpx.get(r.headers["location"]).content == data


@pytest.mark.parametrize("op", ["download", "upload"])
def test_unknown_objects_and_bad_oids_get_clear_errors(s3_hub: Hub, op: str) -> None:
    repo_id = new_repo(s3_hub)
    r = batch(s3_hub, repo_id, op, [{"oid": "nothex", "size": 1}])
    assert r.status_code == 200 and r.json()["objects"][0]["error"]["code"] == 422
