"""The CAS protocol spoken raw (httpx, tokens from the hub's token endpoints, xorbs and shards built with
haven.xet), on both backends: upload xorbs and shards (v1 and v2), commit the files by sha256, then every
way of reading them back: reconstructions v1/v2/batch with and without ranges through signed xorb URLs,
file HEAD, global dedup, tree xetHash and /resolve."""

from __future__ import annotations

import hashlib
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import orjson

from haven.xet import (
    CompressionType,
    FileInfo,
    Term,
    chunk_hash,
    hash_to_hex,
    hex_to_hash,
    hmac_hash,
    parse_shard,
    serialize_shard,
)
from tests.cas._xet import (
    Cas,
    FileData,
    bearer,
    cas,
    commit_lfs,
    file_info,
    make_file,
    make_xorb,
    new_repo,
    random_bytes,
    reassemble,
    token_response,
)
from tests.conftest import Hub

KB = 1024


def compressible(n: int) -> bytes:
    return b"".join(b"row %08d: the quick brown fox jumps over the lazy dog\n" % i for i in range(n // 50 + 1))[:n]


def two_files() -> tuple[FileData, FileData, list]:
    """A: 3 xorbs (raw, LZ4, BG4-LZ4 chunks); B: chunks 3..10 of A's first xorb, then a xorb of its own."""
    a = make_file(random_bytes(240 * KB, 1) + compressible(240 * KB) + random_bytes(133 * KB, 2), 16 * KB, 15)
    a.xorbs[2] = make_xorb(a.xorbs[2].chunks, CompressionType.BG4_LZ4)
    x0, z = a.xorbs[0], make_xorb([random_bytes(20 * KB, 3), compressible(7 * KB)])
    terms = [Term(x0.raw_hash, sum(map(len, x0.chunks[3:10])), 3, 10), Term(z.raw_hash, 27 * KB, 0, 2)]
    b_data = b"".join(x0.chunks[3:10]) + b"".join(z.chunks)
    return a, FileData(b_data, [z]), terms


def test_upload_then_read_back_every_way(hub: Hub) -> None:
    repo_id = new_repo(hub)
    token = token_response(hub, repo_id, "write")
    assert token.status_code == 200
    body = token.json()
    assert body["casUrl"] == f"{hub.url}/_xet" and body["accessToken"].startswith("xet_")
    assert token.headers["X-Xet-Cas-Url"] == body["casUrl"]
    assert token.headers["X-Xet-Access-Token"] == body["accessToken"]
    assert int(token.headers["X-Xet-Token-Expiration"]) == body["exp"] > time.time() + 600
    w = Cas(body["casUrl"], body["accessToken"])
    a, b, b_terms = two_files()

    # Xorbs: stored once, then known.
    for x in a.xorbs:
        assert w.call("HEAD", f"/v1/xorbs/default/{x.hash}").status_code == 404
        r = w.post_xorb(x)
        assert r.status_code == 200 and r.json() == {"was_inserted": True}
        assert w.post_xorb(x).json() == {"was_inserted": False}
        head = w.call("HEAD", f"/v1/xorbs/default/{x.hash}")
        assert head.status_code == 200 and int(head.headers["content-length"]) == len(x.body)

    # Shards: A through the v2 NDJSON stream, B (reusing A's first xorb, only its own in the CAS info) through v1.
    r = w.post_shard(a.shard(), version=2)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
    events = [orjson.loads(line) for line in r.content.splitlines()]
    assert events[-1] == {"type": "result", "result": 1}
    assert w.post_shard(a.shard()).json() == {"result": 0}  # already registered
    assert w.post_xorb(b.xorbs[0]).status_code == 200
    b_info = file_info(b_terms, [a.xorbs[0], b.xorbs[0]], b.sha256)
    r = w.post_shard(serialize_shard([b_info], [b.xorbs[0].cas_info()]))
    assert r.status_code == 200 and r.json() == {"result": 1}
    b_id = hash_to_hex(b_info.file_hash)

    # The commit names the files by sha256, as after an hf_xet upload.
    commit = commit_lfs(hub, repo_id, {"a.bin": (a.sha256, a.size), "dir/b.bin": (b.sha256, b.size)})
    assert commit.status_code == 200, commit.text
    tree = httpx.get(f"{hub.url}/api/models/{repo_id}/tree/main?recursive=1").json()
    xet = {e["path"]: e.get("xetHash") for e in tree if e["type"] == "file"}
    assert xet["a.bin"] == a.file_id and xet["dir/b.bin"] == b_id
    head = httpx.head(f"{hub.url}/{repo_id}/resolve/main/a.bin")
    assert head.headers["x-xet-hash"] == a.file_id and int(head.headers["content-length"]) == a.size
    refresh = head.headers["link"].split(">")[0].lstrip("<")
    assert 'rel="xet-auth"' in head.headers["link"] and "/xet-read-token/" in refresh
    r = httpx.get(refresh)  # anonymous on a public repo
    assert r.status_code == 200
    rd = Cas(r.json()["casUrl"], r.json()["accessToken"])

    with rd.client:
        for f, file_id in ((a, a.file_id), (b, b_id)):
            head = rd.call("HEAD", f"/v1/files/{file_id}")
            assert head.status_code == 200 and int(head.headers["content-length"]) == f.size
            for version in (1, 2):
                r = rd.reconstruction(file_id, version)
                assert r.status_code == 200, r.text
                assert r.json()["offset_into_first_range"] == 0
                assert reassemble(rd.client, r.json()) == f.data

        # Ranges: trimmed to whole chunks, with the offset of the first byte into the first chunk.
        for lo, hi in [(0, 0), (5, 16 * KB + 3), (16 * KB, 16 * KB), (200 * KB, 500 * KB), (a.size - 9, a.size + 50)]:
            for version in (1, 2):
                r = rd.reconstruction(a.file_id, version, f"{lo}-{hi}")
                assert r.status_code == 200, (lo, hi, r.text)
                assert r.json()["offset_into_first_range"] == lo % (16 * KB)
                end = min(hi, a.size - 1)
                assert reassemble(rd.client, r.json(), end - lo + 1) == a.data[lo : end + 1], (lo, hi)
        assert rd.reconstruction(a.file_id, 2, f"{a.size}-").status_code == 416

        # Batch reconstruction (v1 shapes).
        r = rd.call("POST", "/v1/reconstructions", json=[{"prefix": "default", "hash": h} for h in (a.file_id, b_id)])
        assert r.status_code == 200, r.text
        batch = r.json()
        for f, file_id in ((a, a.file_id), (b, b_id)):
            one = {"terms": batch["files"][file_id], "fetch_info": batch["fetch_info"], "offset_into_first_range": 0}
            assert reassemble(rd.client, one) == f.data

        # Global dedup: A's first chunk names A's first xorb, then the other xorbs of the files reading it (A and
        # B), every chunk hash keyed with the footer's HMAC key.
        first = hash_to_hex(chunk_hash(a.xorbs[0].chunks[0]))
        expected = {x.raw_hash: x for x in (*a.xorbs, b.xorbs[0])}
        for prefix in ("default", "default-merkledb"):
            r = rd.call("GET", f"/v1/chunks/{prefix}/{first}")
            assert r.status_code == 200
            shard = parse_shard(r.content)
            assert shard.files == () and shard.hmac_key is not None
            assert shard.cas_infos[0].cas_hash == a.xorbs[0].raw_hash
            assert sorted(i.cas_hash for i in shard.cas_infos) == sorted(expected)
            for info in shard.cas_infos:
                xorb = expected[info.cas_hash]
                assert [c.chunk_hash for c in info.chunks] == [hmac_hash(shard.hmac_key, h) for h, _ in xorb.pairs]
        assert rd.call("GET", f"/v1/chunks/default/{hash_to_hex(chunk_hash(b'never stored'))}").status_code == 404

    # Clients without Xet: /resolve rebuilds the bytes, ranges included.
    url = f"{hub.url}/{repo_id}/resolve/main/dir/b.bin"
    assert hashlib.sha256(httpx.get(url).content).hexdigest() == b.sha256
    r = httpx.get(url, headers={"Range": "bytes=100-40000"})
    assert r.status_code == 206 and r.content == b.data[100:40001]
    assert httpx.get(url, headers=bearer(hub.tokens["bob"])).content == b.data


def test_empty_file(hub: Hub) -> None:
    """A file with no chunks: the zero file hash, no terms, the SHA-256 of nothing."""
    repo_id = new_repo(hub)
    w = cas(hub, repo_id)
    sha = hashlib.sha256(b"").hexdigest()
    info = FileInfo(bytes(32), (), (), hex_to_hash(sha))
    r = w.post_shard(serialize_shard([info], []))
    assert r.status_code == 200, r.text
    assert commit_lfs(hub, repo_id, {"empty.bin": (sha, 0)}).status_code == 200
    file_id = "0" * 64
    assert int(w.call("HEAD", f"/v1/files/{file_id}").headers["content-length"]) == 0
    body = w.reconstruction(file_id).json()
    assert body["terms"] == [] and body["offset_into_first_range"] == 0
    r = httpx.get(f"{hub.url}/{repo_id}/resolve/main/empty.bin")
    assert r.status_code == 200 and r.content == b"" and r.headers["x-xet-hash"] == file_id


def test_concurrent_uploads_of_the_same_content(hub: Hub) -> None:
    """Several clients uploading the same xorb and registering the same file at once: all succeed, one
    stores it, and the file is registered once."""
    repos = [new_repo(hub) for _ in range(4)]
    f = make_file(random_bytes(200 * KB, 30), 16 * KB)
    clients = [cas(hub, r) for r in repos for _ in range(2)]

    def run(c: Cas) -> tuple[bool, int]:
        r = c.post_xorb(f.xorbs[0])
        assert r.status_code == 200, r.text
        s = c.post_shard(f.shard())
        assert s.status_code == 200, s.text
        return r.json()["was_inserted"], s.json()["result"]

    with ThreadPoolExecutor(len(clients)) as pool:
        results = list(pool.map(run, clients))
    assert sum(inserted for inserted, _ in results) == 1
    assert sum(new for _, new in results) == 1
    for repo_id in repos:  # each repository got its link
        assert commit_lfs(hub, repo_id, {"f.bin": (f.sha256, f.size)}).status_code == 200
        assert httpx.get(f"{hub.url}/{repo_id}/resolve/main/f.bin").content == f.data
