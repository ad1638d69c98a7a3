"""LFS objects are accepted only as exactly the bytes they were announced as, and only where they were uploaded.

A transfer that is wrong (other bytes, other size), tampered with (edited signed URL) or cut short leaves nothing:
no object in the store, no half-file in its temp dir, nothing a commit could reference, the branch unchanged.
"""

from __future__ import annotations

import os
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import Hub
from tests.faults.conftest import (
    add_lfs,
    auth,
    blob_path,
    commit,
    download,
    files,
    head,
    lfs_batch,
    put_and_hang_up,
    sha256,
    tmp_files,
    upload_href,
)
from tests.support import wait_for


def _payload(size: int = 4096) -> bytes:
    return os.urandom(size)


def _assert_not_received(http: httpx.Client, hub: Hub, repo_id: str, data: bytes) -> None:
    """The object is nowhere: not in the store, not linkable, and the batch API still asks for it."""
    oid = sha256(data)
    assert not blob_path(hub, oid).exists()
    (obj,) = lfs_batch(http, hub, repo_id, [(oid, len(data))])
    assert "upload" in obj["actions"]
    (obj,) = lfs_batch(http, hub, repo_id, [(oid, len(data))], operation="download")
    assert obj["error"]["code"] == 404
    r = commit(http, hub, repo_id, [add_lfs("weights.bin", oid, len(data))])
    assert r.status_code == 400, r.text


def _actions(http: httpx.Client, hub: Hub, repo_id: str, oid: str, size: int) -> tuple[str, str]:
    """The upload and verify hrefs the batch API hands out for an object."""
    (obj,) = lfs_batch(http, hub, repo_id, [(oid, size)])
    return obj["actions"]["upload"]["href"], obj["actions"]["verify"]["href"]


def _verify(http: httpx.Client, hub: Hub, href: str, oid: str, size: int) -> int:
    return http.post(href, json={"oid": oid, "size": size}, headers=auth(hub)).status_code


@pytest.mark.parametrize(
    "corrupt",
    [
        pytest.param(lambda d: bytes([d[0] ^ 1]) + d[1:], id="one-bit-flipped"),
        pytest.param(lambda d: d[:-1], id="one-byte-short"),
        pytest.param(lambda d: d + b"!", id="one-byte-long"),
        pytest.param(lambda d: b"", id="empty"),
        pytest.param(lambda d: d * 3, id="three-times-over"),
    ],
)
def test_upload_of_other_bytes_is_rejected(hub: Hub, http: httpx.Client, repo_id: str, corrupt) -> None:  # type: ignore[no-untyped-def]
    data = _payload()
    before = head(http, hub, repo_id)
    href, verify = _actions(http, hub, repo_id, sha256(data), len(data))
    r = http.put(href, content=corrupt(data))
    assert r.status_code == 400, r.text
    assert _verify(http, hub, verify, sha256(data), len(data)) == 404
    _assert_not_received(http, hub, repo_id, data)
    assert head(http, hub, repo_id) == before
    # The same href with the right bytes still works: a failed attempt poisons nothing.
    assert http.put(href, content=data).status_code == 200
    assert _verify(http, hub, verify, sha256(data), len(data)) == 200


def test_announcing_another_size_for_the_right_bytes_is_rejected(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    data = _payload()
    href = upload_href(http, hub, repo_id, sha256(data), len(data) + 10)
    assert http.put(href, content=data).status_code == 400
    assert not blob_path(hub, sha256(data)).exists()


@pytest.mark.parametrize("field", ["oid", "size", "repo", "exp", "sig"])
def test_tampered_upload_urls_are_refused(hub: Hub, http: httpx.Client, repo_id: str, field: str) -> None:
    """The signed href binds repository, object, size and expiry; editing any of them voids it."""
    data = _payload()
    href = upload_href(http, hub, repo_id, sha256(data), len(data))
    url = urlsplit(href)
    params = dict(parse_qsl(url.query))
    params[field] = {
        "oid": sha256(b"other"),
        "size": str(len(data) + 1),
        "repo": str(int(params["repo"]) + 1),
        "exp": str(int(params["exp"]) + 3600),
        "sig": "0" * len(params["sig"]),
    }[field]
    r = http.put(f"{url.path}?{urlencode(params)}", content=data)
    assert r.status_code == 403, r.text
    assert not blob_path(hub, sha256(data)).exists()


def test_commit_referencing_an_object_never_uploaded_is_400(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    before = head(http, hub, repo_id)
    for size in (10, None):
        r = commit(http, hub, repo_id, [add_lfs("model.safetensors", sha256(uuid.uuid4().bytes), size)])
        assert r.status_code == 400, r.text
    assert head(http, hub, repo_id) == before


def test_commit_with_the_wrong_size_for_an_uploaded_object_is_400(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    data = _payload()
    oid = sha256(data)
    assert http.put(upload_href(http, hub, repo_id, oid, len(data)), content=data).status_code == 200
    before = head(http, hub, repo_id)
    for size in (len(data) - 1, len(data) + 1, 0):
        r = commit(http, hub, repo_id, [add_lfs("weights.bin", oid, size)])
        assert r.status_code == 400, r.text
    assert head(http, hub, repo_id) == before
    assert commit(http, hub, repo_id, [add_lfs("weights.bin", oid, len(data))]).status_code == 200
    assert download(http, hub, repo_id, "weights.bin") == data


def test_objects_uploaded_elsewhere_cannot_be_claimed(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    """Knowing an object's sha256 is not owning it: bob's private bytes stay bob's until alice uploads them too."""
    bob = hub.api("bob")
    secret_repo = f"bob/secret-{uuid.uuid4().hex[:8]}"
    bob.create_repo(secret_repo, private=True)
    secret = _payload()
    bob.upload_file(path_or_fileobj=secret, path_in_repo="secret.bin", repo_id=secret_repo)
    oid = sha256(secret)
    assert blob_path(hub, oid).exists()

    (obj,) = lfs_batch(http, hub, repo_id, [(oid, len(secret))], operation="download")
    assert obj["error"]["code"] == 404 and "actions" not in obj
    (obj,) = lfs_batch(http, hub, repo_id, [(oid, len(secret))])
    assert "upload" in obj["actions"], "the store has it, but alice must still prove she has the bytes"
    r = commit(http, hub, repo_id, [add_lfs("stolen.bin", oid, len(secret))])
    assert r.status_code == 400, r.text
    # Alice uploading the same bytes is fine, and does not disturb bob's copy.
    hub.api().upload_file(path_or_fileobj=secret, path_in_repo="mine.bin", repo_id=repo_id)
    assert download(http, hub, repo_id, "mine.bin") == secret
    assert download(http, hub, secret_repo, "secret.bin", user="bob") == secret


def test_lfs_upload_through_the_client_without_xet(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    """The real client's LFS path (HF_HUB_DISABLE_XET=1): batch, PUT, verify, commit."""
    data = _payload(100_000)
    info = hub.api().upload_file(path_or_fileobj=data, path_in_repo="w/weights.bin", repo_id=repo_id)
    entry = files(http, hub, repo_id)["w/weights.bin"]
    assert entry["lfs"]["oid"] == sha256(data) and entry["size"] == len(data)
    assert info.oid == head(http, hub, repo_id)
    assert download(http, hub, repo_id, "w/weights.bin") == data


@pytest.mark.parametrize("sent", [0, 1, 1_000_000])
def test_interrupted_upload_leaves_nothing(hub: Hub, http: httpx.Client, repo_id: str, sent: int) -> None:
    data = _payload(2_000_000)
    oid = sha256(data)
    before_head, before_tmp = head(http, hub, repo_id), set(tmp_files(hub))
    href = upload_href(http, hub, repo_id, oid, len(data))
    put_and_hang_up(href, data, sent)
    wait_for(lambda: set(tmp_files(hub)) <= before_tmp, what="the half-written upload to be removed")
    _assert_not_received(http, hub, repo_id, data)
    assert head(http, hub, repo_id) == before_head
    # The retry, through the same href, succeeds and the object is usable.
    assert http.put(href, content=data).status_code == 200
    assert commit(http, hub, repo_id, [add_lfs("weights.bin", oid, len(data))]).status_code == 200
    assert download(http, hub, repo_id, "weights.bin") == data


def test_objects_over_the_size_limit_are_refused_in_the_batch(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    (obj,) = lfs_batch(http, hub, repo_id, [(sha256(b"huge"), 10**18)])
    assert obj["error"]["code"] == 422 and "actions" not in obj


def test_batch_of_too_many_objects_is_refused(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    objects = [{"oid": sha256(str(i).encode()), "size": 1} for i in range(1001)]
    r = http.post(
        f"/{repo_id}.git/info/lfs/objects/batch", json={"operation": "upload", "objects": objects}, headers=auth(hub)
    )
    assert r.status_code == 413
