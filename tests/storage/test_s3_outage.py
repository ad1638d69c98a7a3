"""When the object store is down, requests that need it fail with a clear 503 (and Retry-After), not a 500;
what Haven can answer without it (metadata, git) keeps working."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator

import httpx
import pytest

from tests.cas._xet import cas, make_xorb
from tests.conftest import Hub
from tests.s3_server import in_process
from tests.storage.conftest import S3_PART, start_s3_hub
from tests.storage.test_s3_hub import batch, new_repo


@pytest.fixture(scope="module")
def stranded() -> Iterator[tuple[Hub, str, bytes]]:
    """A Haven with one LFS file uploaded, whose S3 server has then been stopped."""
    s3 = in_process()
    hub = start_s3_hub(s3, s3.new_bucket())
    repo_id = new_repo(hub)
    data = os.urandom(50_000)
    hub.api("alice").upload_file(path_or_fileobj=data, path_in_repo="w.safetensors", repo_id=repo_id)
    s3.stop()
    yield hub, repo_id, data
    hub.server.stop()


def assert_unavailable(r: httpx.Response) -> None:
    assert r.status_code == 503, r.text
    assert "Object storage" in r.json()["error"] and r.headers["retry-after"]


def test_downloads_say_storage_is_unavailable(stranded: tuple[Hub, str, bytes]) -> None:
    hub, repo_id, _ = stranded
    assert_unavailable(httpx.get(f"{hub.url}/{repo_id}/resolve/main/w.safetensors"))
    head = httpx.head(f"{hub.url}/{repo_id}/resolve/main/w.safetensors")
    assert head.status_code == 503
    # Metadata does not need the object store.
    [info] = hub.api("alice").get_paths_info(repo_id, ["w.safetensors"])
    assert info.lfs is not None


def test_uploads_say_storage_is_unavailable(stranded: tuple[Hub, str, bytes]) -> None:
    hub, repo_id, _ = stranded
    big = {"oid": hashlib.sha256(b"big").hexdigest(), "size": 2 * S3_PART}
    assert_unavailable(batch(hub, repo_id, "upload", [big], transfers=["multipart"]))
    small = {"oid": hashlib.sha256(b"small").hexdigest(), "size": 5}
    actions = batch(hub, repo_id, "upload", [small]).json()["objects"][0]["actions"]  # presigning needs no call
    assert_unavailable(httpx.post(actions["verify"]["href"], json=small))
    xorb = make_xorb([os.urandom(1000)])
    assert_unavailable(cas(hub, repo_id).post_xorb(xorb))


def test_haven_starts_while_the_object_store_is_down(stranded: tuple[Hub, str, bytes]) -> None:
    hub, repo_id, _ = stranded
    hub.server.stop()
    hub.server.start(timeout=120)
    assert "Could not clean temporary uploads" in hub.server.logs()
    assert hub.api(None).model_info(repo_id).id == repo_id
    assert_unavailable(httpx.get(f"{hub.url}/{repo_id}/resolve/main/w.safetensors"))
