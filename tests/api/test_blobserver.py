"""LFS bytes leave through the sendfile blob server: a cross-origin redirect carrying the metadata, exact
ranges, signed URLs only, and Xet-stored objects sent back to the main server to be rebuilt."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.conftest import Hub


@pytest.fixture
def lfs_file(hub: Hub, repo_id: str, tmp_path: Path) -> tuple[str, bytes]:
    data = os.urandom(300_000)
    (tmp_path / "w.bin").write_bytes(data)
    hub.api("alice").upload_file(path_or_fileobj=tmp_path / "w.bin", path_in_repo="w.bin", repo_id=repo_id)
    return repo_id, data


def test_resolve_redirects_to_another_origin_with_the_metadata(hub: Hub, lfs_file: tuple[str, bytes]) -> None:
    repo_id, data = lfs_file
    r = httpx.head(f"{hub.url}/{repo_id}/resolve/main/w.bin")
    assert r.status_code == 302
    location = urlsplit(r.headers["location"])
    assert location.port != urlsplit(hub.url).port
    assert r.headers["x-linked-etag"] == f'"{hashlib.sha256(data).hexdigest()}"'
    assert r.headers["x-linked-size"] == str(len(data))
    assert len(r.headers["x-repo-commit"]) == 40


def test_blob_server_sends_whole_files_and_exact_ranges(hub: Hub, lfs_file: tuple[str, bytes]) -> None:
    repo_id, data = lfs_file
    url = httpx.head(f"{hub.url}/{repo_id}/resolve/main/w.bin").headers["location"]
    assert httpx.get(url).content == data
    part = httpx.get(url, headers={"Range": "bytes=1000-1999"})
    assert part.status_code == 206
    assert part.content == data[1000:2000]
    assert part.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert httpx.get(url, headers={"Range": f"bytes={len(data)}-"}).status_code == 416
    head = httpx.head(url)
    assert head.headers["content-length"] == str(len(data)) and head.content == b""


def test_blob_server_refuses_unsigned_and_tampered_urls(hub: Hub, lfs_file: tuple[str, bytes]) -> None:
    repo_id, _ = lfs_file
    url = httpx.head(f"{hub.url}/{repo_id}/resolve/main/w.bin").headers["location"]
    assert httpx.get(url.split("?")[0]).status_code == 403
    assert httpx.get(url.replace("sig=", "sig=0")).status_code == 403
    assert httpx.get(url.replace("/_blobs/", "/elsewhere/")).status_code == 404


def test_keep_alive_connection_serves_several_requests(hub: Hub, lfs_file: tuple[str, bytes]) -> None:
    repo_id, data = lfs_file
    url = httpx.head(f"{hub.url}/{repo_id}/resolve/main/w.bin").headers["location"]
    with httpx.Client() as client:
        for start in (0, 10, 299_990):
            assert client.get(url, headers={"Range": f"bytes={start}-{start + 9}"}).content == data[start : start + 10]
