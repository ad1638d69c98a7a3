"""Downloading through the mirror with the stock huggingface_hub, over plain HTTP and with hf_xet installed."""

from __future__ import annotations

import hashlib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.mirror.conftest import ORG, Mirror, client


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("xet", [False, True], ids=["plain", "xet"])
@pytest.mark.parametrize("repo", ["lfs-model", "xet-model"])
def test_snapshot_through_the_mirror_is_the_upstream_repository(
    mirror: Mirror, repo: str, xet: bool, tmp_path: Path
) -> None:
    repo_id = f"{ORG}/{repo}"
    got = client(mirror.hub, "download", repo_id, xet=xet, home=tmp_path)
    assert got["commit"] == mirror.upstream.commits[repo_id]  # same commit ids: the history was fetched with git
    expected = {path: sha(data) for path, data in mirror.upstream.files[repo_id].items()}
    assert {p: d for p, d in got["files"].items() if p != ".gitattributes"} == expected
    again = client(mirror.hub, "download", repo_id, xet=xet, home=tmp_path / "second")  # now from the blob store
    assert again == got


def test_mirrored_repository_is_marked_and_read_only(mirror: Mirror) -> None:
    repo_id = f"{ORG}/lfs-model"
    api = mirror.hub.api("alice")
    info = api.model_info(repo_id)
    assert info.sha == mirror.upstream.commits[repo_id]
    assert info.card_data is not None and info.card_data["license"] == "mit"
    r = httpx.get(f"{mirror.hub.url}/api/models/{repo_id}")
    assert r.json()["mirror"] == {"upstream": mirror.upstream.hub.url}
    assert r.headers["X-Haven-Mirror"] in ("fresh", "stale")
    root = mirror.hub.api("root")
    with pytest.raises(Exception, match="read-only mirror"):
        root.upload_file(path_or_fileobj=b"x", path_in_repo="new.txt", repo_id=repo_id)
    local = httpx.get(f"{mirror.hub.url}/api/models/alice/does-not-exist")
    assert local.status_code == 404 and "X-Haven-Mirror" not in local.headers


def test_first_download_streams_and_resumes_with_ranges(mirror: Mirror) -> None:
    repo_id = f"{ORG}/lfs-model"
    data = mirror.upstream.files[repo_id]["sub/extra.bin"]
    url = f"{mirror.hub.url}/{repo_id}/resolve/main/sub/extra.bin"
    part = httpx.get(url, headers={"Range": "bytes=100-199"}, follow_redirects=True)
    assert part.status_code == 206 and part.content == data[100:200]
    whole = httpx.get(url, follow_redirects=True)
    assert whole.status_code == 200 and whole.content == data


def test_concurrent_first_downloads_fetch_the_upstream_once(mirror: Mirror) -> None:
    repo_id = f"{ORG}/concurrent-model"
    data = mirror.upstream.files[repo_id]["weights.bin"]
    url = f"{mirror.hub.url}/{repo_id}/resolve/main/weights.bin"
    with ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda _: httpx.get(url, follow_redirects=True, timeout=60).content, range(6)))
    assert all(body == data for body in bodies)
    log = (mirror.hub.server.data_dir.parent / f"server-{mirror.hub.server.port}.log").read_text()
    assert log.count(f"fetching {sha(data)}") == 1


def test_repository_page_shows_the_mirror_badge(mirror: Mirror) -> None:
    page = httpx.get(f"{mirror.hub.url}/{ORG}/lfs-model")
    assert page.status_code == 200
    assert f'title="A read-only copy of {mirror.upstream.hub.url}">mirror</span>' in page.text
