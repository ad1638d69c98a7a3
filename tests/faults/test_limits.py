"""Bounded input: request bodies, LFS object sizes and multipart parts, on a server with small limits of its own.

HAVEN_MAX_REQUEST_BODY bounds every API request body (a declared Content-Length is refused up front, a chunked body
as soon as it passes the limit); LFS transfers are bounded by the size they announced instead, so large files
still upload. Nothing refused leaves a trace.
"""

from __future__ import annotations

import math
import os
import uuid
from collections.abc import Iterator

import httpx
import orjson
import pytest

from tests.conftest import Hub
from tests.faults.conftest import (
    add,
    auth,
    blob_path,
    client_for,
    commit,
    download,
    files,
    head,
    lfs_batch,
    ndjson,
    put_and_hang_up,
    sha256,
    start_hub,
    tmp_files,
)
from tests.support import wait_for

LIMIT = 64 * 1024
CHUNK = 256 * 1024
MAX_OBJECT = 2_000_000


@pytest.fixture(scope="module")
def small() -> Iterator[Hub]:
    """A SQLite server with small limits (the limits do not depend on the database)."""
    hub = start_hub(
        "sqlite",
        None,
        HAVEN_MAX_REQUEST_BODY=str(LIMIT),
        HAVEN_MULTIPART_CHUNK_SIZE=str(CHUNK),
        HAVEN_MAX_LFS_OBJECT=str(MAX_OBJECT),
    )
    yield hub
    hub.server.stop()


@pytest.fixture
def http(small: Hub) -> httpx.Client:
    return client_for(small)


@pytest.fixture
def repo(small: Hub) -> str:
    name = f"lim-{uuid.uuid4().hex[:8]}"
    small.api().create_repo(name)
    return f"alice/{name}"


def _chunked(data: bytes, size: int = 8192) -> Iterator[bytes]:
    """A body without Content-Length (Transfer-Encoding: chunked)."""
    for i in range(0, len(data), size):
        yield data[i : i + size]


def _commit_body(content_size: int) -> bytes:
    return ndjson([add("big.txt", os.urandom(content_size))])


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_commit_body_over_the_limit_is_413(small: Hub, http: httpx.Client, repo: str, chunked: bool) -> None:
    before = head(http, small, repo)
    body = _commit_body(LIMIT)  # base64 makes it a third larger than the limit
    r = http.post(
        f"/api/models/{repo}/commit/main",
        content=_chunked(body) if chunked else body,
        headers={"Content-Type": "application/x-ndjson", **auth(small)},
    )
    assert r.status_code == 413, r.text
    assert r.headers.get("x-error-message")
    assert head(http, small, repo) == before
    assert "big.txt" not in files(http, small, repo)


def test_commit_body_under_the_limit_is_fine(small: Hub, http: httpx.Client, repo: str) -> None:
    body = _commit_body(LIMIT // 2)
    assert len(body) < LIMIT
    r = http.post(
        f"/api/models/{repo}/commit/main",
        content=body,
        headers={"Content-Type": "application/x-ndjson", **auth(small)},
    )
    assert r.status_code == 200, r.text


def test_client_upload_of_an_inline_file_over_the_limit_fails_cleanly(small: Hub, repo: str) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    before = small.api().model_info(repo).sha
    with pytest.raises(HfHubHTTPError) as e:
        small.api().upload_file(path_or_fileobj=os.urandom(LIMIT), path_in_repo="notes.txt", repo_id=repo)
    assert e.value.response.status_code == 413
    assert small.api().model_info(repo).sha == before


OVERSIZED = 4 * LIMIT


def _oversized_requests(repo: str) -> list[tuple[str, str, dict[str, str], bytes]]:
    junk = b"x" * OVERSIZED
    part = b'--b\r\nContent-Disposition: form-data; name="paths"\r\n\r\n' + junk + b"\r\n--b--\r\n"
    padded = orjson.dumps({"name": "x", "pad": "x" * OVERSIZED})
    json_headers = {"Content-Type": "application/json"}
    return [
        ("POST", "/api/repos/create", json_headers, padded),
        ("DELETE", "/api/repos/delete", json_headers, padded),
        ("POST", "/api/repos/move", json_headers, padded),
        ("PUT", f"/api/models/{repo}/settings", json_headers, padded),
        ("POST", f"/api/models/{repo}/branch/b", json_headers, padded),
        ("POST", f"/api/models/{repo}/tag/main", json_headers, padded),
        ("POST", f"/api/models/{repo}/super-squash/main", json_headers, padded),
        ("POST", f"/api/models/{repo}/preupload/main", json_headers, padded),
        ("POST", f"/api/models/{repo}/paths-info/main", {"Content-Type": "application/x-www-form-urlencoded"}, junk),
        ("POST", f"/api/models/{repo}/paths-info/main", {"Content-Type": "multipart/form-data; boundary=b"}, part),
        ("POST", "/api/validate-yaml", json_headers, padded),
        ("POST", f"/{repo}.git/info/lfs/objects/batch", {"Content-Type": "application/vnd.git-lfs+json"}, padded),
        ("POST", f"/api/models/{repo}/commit/main", {"Content-Type": "application/x-ndjson"}, junk),
        ("GET", f"/api/models/{repo}", {}, junk),
    ]


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
@pytest.mark.parametrize("index", range(14))
def test_every_api_body_is_bounded(small: Hub, http: httpx.Client, repo: str, index: int, chunked: bool) -> None:
    method, path, headers, body = _oversized_requests(repo)[index]
    before = head(http, small, repo)
    r = http.request(
        method, path, content=_chunked(body) if chunked else body, headers={**headers, **auth(small, "alice")}
    )
    if method == "GET" and r.status_code == 200:
        return  # a GET never reads its body, so there is nothing to bound
    assert r.status_code == 413, (method, path, r.status_code, r.text[:200])
    assert small.api().repo_exists(repo)
    assert head(http, small, repo) == before
    assert [b.name for b in small.api().list_repo_refs(repo).branches] == ["main"]


def test_lfs_uploads_are_not_bound_by_the_request_limit(small: Hub, http: httpx.Client, repo: str) -> None:
    """1 MB through the real client: four multipart parts of 256 kB, each far over the 64 kB API limit."""
    data = os.urandom(1_000_000)
    small.api().upload_file(path_or_fileobj=data, path_in_repo="weights.bin", repo_id=repo)
    assert download(http, small, repo, "weights.bin") == data
    assert files(http, small, repo)["weights.bin"]["lfs"]["oid"] == sha256(data)


def _multipart(http: httpx.Client, hub: Hub, repo: str, data: bytes) -> tuple[str, list[str]]:
    (obj,) = lfs_batch(http, hub, repo, [(sha256(data), len(data))])
    header = obj["actions"]["upload"]["header"]
    assert int(header["chunk_size"]) == CHUNK
    parts = [header[str(n)] for n in range(1, math.ceil(len(data) / CHUNK) + 1)]
    assert len(header) == len(parts) + 1
    return obj["actions"]["upload"]["href"], parts


def _complete(http: httpx.Client, href: str, oid: str, etags: list[str]) -> httpx.Response:
    body = {"oid": oid, "parts": [{"partNumber": n, "etag": e} for n, e in enumerate(etags, 1)]}
    return http.post(href, json=body, headers={"Content-Type": "application/vnd.git-lfs+json"})


@pytest.mark.parametrize("fault", ["corrupt-part", "missing-part", "short-part", "swapped-parts"])
def test_multipart_upload_that_does_not_add_up_is_rejected(
    small: Hub, http: httpx.Client, repo: str, fault: str
) -> None:
    data = os.urandom(CHUNK * 2 + 1000)
    oid = sha256(data)
    before = set(tmp_files(small))
    complete, parts = _multipart(http, small, repo, data)
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    if fault == "corrupt-part":
        chunks[1] = b"\0" + chunks[1][1:]
    elif fault == "short-part":
        chunks[1] = chunks[1][:-1]
    elif fault == "swapped-parts":
        chunks[0], chunks[1] = chunks[1], chunks[0]
    etags = []
    for n, (url, chunk) in enumerate(zip(parts, chunks, strict=True)):
        if fault == "missing-part" and n == 1:
            continue
        r = http.put(url, content=chunk)
        assert r.status_code == 200 and r.headers["etag"]
        etags.append(r.headers["etag"])
    assert _complete(http, complete, oid, etags).status_code == 400
    assert not blob_path(small, oid).exists()
    wait_for(lambda: set(tmp_files(small)) <= before, what="the parts to be removed")
    # Starting over with the right bytes works.
    complete, parts = _multipart(http, small, repo, data)
    etags = [http.put(url, content=data[i * CHUNK : (i + 1) * CHUNK]).headers["etag"] for i, url in enumerate(parts)]
    assert _complete(http, complete, oid, etags).status_code == 200
    assert blob_path(small, oid).exists()


def test_multipart_part_over_the_chunk_size_is_refused(small: Hub, http: httpx.Client, repo: str) -> None:
    """The refused part is not half-kept: the upload cannot complete without it, and sending it again properly
    completes the object with exactly the right bytes."""
    data = os.urandom(CHUNK * 2)
    oid = sha256(data)
    complete, parts = _multipart(http, small, repo, data)
    r = http.put(parts[0], content=data)  # both chunks' worth into part 1
    assert r.status_code == 400, r.text
    etag2 = http.put(parts[1], content=data[CHUNK:]).headers["etag"]
    assert _complete(http, complete, oid, ['"1-262144"', etag2]).status_code == 400
    assert not blob_path(small, oid).exists()
    complete, parts = _multipart(http, small, repo, data)
    etags = [http.put(url, content=data[i * CHUNK : (i + 1) * CHUNK]).headers["etag"] for i, url in enumerate(parts)]
    assert _complete(http, complete, oid, etags).status_code == 200
    assert blob_path(small, oid).read_bytes() == data


def test_interrupted_multipart_part_can_be_sent_again(small: Hub, http: httpx.Client, repo: str) -> None:
    data = os.urandom(CHUNK * 2 + 10)
    oid = sha256(data)
    complete, parts = _multipart(http, small, repo, data)
    chunks = [data[i : i + CHUNK] for i in range(0, len(data), CHUNK)]
    etags = [http.put(parts[0], content=chunks[0]).headers["etag"]]
    put_and_hang_up(parts[1], chunks[1], CHUNK // 2)
    assert _complete(http, complete, oid, [*etags, '"2-262144"', '"3-10"']).status_code in (400, 404, 409)
    assert not blob_path(small, oid).exists()
    complete, parts = _multipart(http, small, repo, data)
    etags = [http.put(url, content=chunk).headers["etag"] for url, chunk in zip(parts, chunks, strict=True)]
    assert _complete(http, complete, oid, etags).status_code == 200
    assert blob_path(small, oid).read_bytes() == data


def test_objects_over_the_lfs_limit_are_refused(small: Hub, http: httpx.Client, repo: str) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    (obj,) = lfs_batch(http, small, repo, [(sha256(b"big"), MAX_OBJECT + 1)])
    assert obj["error"]["code"] == 422 and "actions" not in obj
    (obj,) = lfs_batch(http, small, repo, [(sha256(b"ok"), MAX_OBJECT)])
    assert "actions" in obj
    before = head(http, small, repo)
    with pytest.raises((HfHubHTTPError, ValueError)):
        small.api().upload_file(path_or_fileobj=os.urandom(MAX_OBJECT + 1), path_in_repo="huge.bin", repo_id=repo)
    assert head(http, small, repo) == before


def test_small_server_still_serves_normal_traffic(small: Hub, http: httpx.Client, repo: str) -> None:
    r = commit(http, small, repo, [add("a.txt", b"a"), add("b.txt", b"b")])
    assert r.status_code == 200
    assert small.api().list_repo_files(repo) == [".gitattributes", "a.txt", "b.txt"]
    assert "Traceback" not in small.server.logs()
