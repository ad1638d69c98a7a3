"""The stock clients through Xet (huggingface_hub + hf_xet 1.8.0, no HF_HUB_DISABLE_XET): upload_file /
upload_folder of multi-MB files, hf_hub_download / snapshot_download, and the same bytes for clients that do
not speak Xet (HF_HUB_DISABLE_XET=1, plain HTTP with ranges, curl). LFS-stored files still download with a
Xet-enabled client."""

from __future__ import annotations

import hashlib
import json
import random
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.cas._xet import OPS, Probe, new_repo, random_bytes, xet_file_shas
from tests.clients._run import run_script
from tests.conftest import Hub

MB = 1024 * 1024


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def ops(hub: Hub, home: Path, *items: dict, user: str | None = "alice") -> list:
    return run_script(hub, OPS, *(json.dumps(i) for i in items), user=user, home=home)


@dataclass
class Uploaded:
    repo_id: str
    files: dict[str, bytes]  # path in repo -> content
    lfs: set[str]  # paths stored through Xet (LFS pointers in git)
    upload_calls: dict[str, int]


def semi_compressible(n: int, seed: int) -> bytes:
    """Text-like bytes (LZ4 shrinks them) with random runs, so xorbs mix compressed and raw chunks."""
    rng = random.Random(seed)
    words = [rng.randbytes(rng.randint(2, 9)).hex() for _ in range(500)]
    out = bytearray()
    while len(out) < n:
        out += (" ".join(rng.choices(words, k=64)) + "\n").encode() if rng.random() < 0.8 else rng.randbytes(4096)
    return bytes(out[:n])


@pytest.fixture(scope="module")
def uploaded(sqlite_hub: Hub, xet_env: Probe, tmp_path_factory: pytest.TempPathFactory) -> Uploaded:
    """One upload_file (8 MB) and one upload_folder (a 36 MB file, 3 MB, 1.5 MB nested, a small text file)."""
    root = tmp_path_factory.mktemp("xet-upload")
    files = {
        "single.bin": random_bytes(8 * MB, 1),
        "data/big.bin": random_bytes(20 * MB, 2) + semi_compressible(16 * MB, 3),
        "data/medium.bin": random_bytes(3 * MB + 12345, 4),
        "nested/deep/small.bin": semi_compressible(MB + MB // 2, 5),
        "notes.txt": b"plain text stays a regular git file\n",
    }
    for name, data in files.items():
        path = (root / "src" / name) if name != "single.bin" else root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    repo_id = new_repo(sqlite_hub)
    xet_env.take()
    ops(
        sqlite_hub,
        root / "home",
        {"op": "upload_file", "repo": repo_id, "src": str(root / "single.bin"), "dst": "single.bin"},
        {"op": "upload_folder", "repo": repo_id, "src": str(root / "src")},
    )
    lfs = {name for name in files if name.endswith(".bin")}
    return Uploaded(repo_id, files, lfs, xet_env.take())


def test_uploads_go_through_xet(sqlite_hub: Hub, uploaded: Uploaded) -> None:
    # Both commits uploaded their large files with hf_xet; the LFS batch API was never asked.
    assert uploaded.upload_calls.get("xet_upload") == 2, uploaded.upload_calls
    assert uploaded.upload_calls.get("lfs_batch", 0) == 0, uploaded.upload_calls
    api = sqlite_hub.api("alice")
    entries = {e.path: e for e in api.list_repo_tree(uploaded.repo_id, recursive=True) if hasattr(e, "lfs")}
    assert set(entries) == {*uploaded.files, ".gitattributes"}
    stored = xet_file_shas(sqlite_hub)
    blobs = sqlite_hub.server.data_dir / "blobs" / "sha256"
    for path, data in uploaded.files.items():
        entry = entries[path]
        assert entry.size == len(data)
        if path in uploaded.lfs:
            # An LFS pointer in git whose bytes live only in the CAS (chunks in xorbs), with its Xet hash listed.
            assert entry.lfs is not None and entry.lfs.sha256 == sha256(data) and entry.lfs.size == len(data)
            assert entry.lfs.sha256 in stored
            assert not (blobs / entry.lfs.sha256[:2] / entry.lfs.sha256[2:4] / entry.lfs.sha256).exists()
            assert entry.xet_hash and len(entry.xet_hash) == 64
        else:
            assert entry.lfs is None and entry.xet_hash is None


def test_xet_client_downloads(sqlite_hub: Hub, uploaded: Uploaded, xet_env: Probe, tmp_path: Path) -> None:
    repo, files = uploaded.repo_id, uploaded.files
    xet_env.take()
    got = ops(sqlite_hub, tmp_path / "one", *({"op": "download", "repo": repo, "file": p} for p in files), user=None)
    assert got == [{"sha256": sha256(d), "size": len(d)} for d in files.values()]
    calls = xet_env.take()
    assert calls["xet_get"] == len(uploaded.lfs) and calls["http_get"] == len(files) - len(uploaded.lfs), calls

    [snapshot] = ops(sqlite_hub, tmp_path / "snap", {"op": "snapshot", "repo": repo}, user=None)
    assert {p: snapshot[p] for p in files} == {p: sha256(d) for p, d in files.items()}
    calls = xet_env.take()
    assert calls["xet_get"] == len(uploaded.lfs), calls  # snapshot_download found the Xet hashes in the tree


def test_non_xet_client_downloads(sqlite_hub: Hub, uploaded: Uploaded, tmp_path: Path) -> None:
    """huggingface_hub with HF_HUB_DISABLE_XET=1 (the in-process client) gets the bytes from /resolve."""
    api = sqlite_hub.api(None)
    for path, data in uploaded.files.items():
        assert Path(api.hf_hub_download(uploaded.repo_id, path, cache_dir=tmp_path / "one")).read_bytes() == data
    root = Path(api.snapshot_download(uploaded.repo_id, cache_dir=tmp_path / "snap"))
    assert all((root / p).read_bytes() == d for p, d in uploaded.files.items())


def test_plain_http_with_ranges(sqlite_hub: Hub, uploaded: Uploaded, tmp_path: Path) -> None:
    data = uploaded.files["data/big.bin"]
    url = f"{sqlite_hub.url}/{uploaded.repo_id}/resolve/main/data/big.bin"
    with httpx.Client(timeout=60) as client:
        head = client.head(url)
        assert head.status_code == 200
        assert int(head.headers["content-length"]) == len(data)
        assert head.headers["x-xet-hash"] and 'rel="xet-auth"' in head.headers["link"]
        assert head.headers["accept-ranges"] == "bytes"
        full = client.get(url)
        assert full.status_code == 200 and sha256(full.content) == sha256(data)
        rng = random.Random(7)
        ranges = [(0, 0), (0, 65535), (len(data) - 1, len(data) - 1), (20 * MB - 100, 20 * MB + 100)]
        ranges += [(a, a + rng.randint(0, 3 * MB)) for a in (rng.randrange(len(data)) for _ in range(8))]
        for lo, hi in ranges:
            r = client.get(url, headers={"Range": f"bytes={lo}-{hi}"})
            end = min(hi, len(data) - 1)
            assert r.status_code == 206, (lo, hi, r.status_code)
            assert r.headers["content-range"] == f"bytes {lo}-{end}/{len(data)}"
            assert r.content == data[lo : end + 1], (lo, hi)
        assert client.get(url, headers={"Range": "bytes=-1000"}).content == data[-1000:]
        assert client.get(url, headers={"Range": f"bytes={len(data) - 5}-"}).content == data[-5:]
        past = client.get(url, headers={"Range": f"bytes={len(data)}-"})
        assert past.status_code == 416 and past.headers["content-range"] == f"bytes */{len(data)}"

    out = tmp_path / "part"
    lo, hi = 5 * MB + 3, 9 * MB + 77
    subprocess.run(["curl", "-sSf", "-r", f"{lo}-{hi}", "-o", str(out), url], check=True, timeout=60)
    assert out.read_bytes() == data[lo : hi + 1]
    subprocess.run(["curl", "-sSfL", "-o", str(out), url], check=True, timeout=60)
    assert sha256(out.read_bytes()) == sha256(data)


def test_lfs_uploads_download_with_a_xet_client(sqlite_hub: Hub, xet_env: Probe, tmp_path: Path) -> None:
    """Files uploaded through the LFS API (HF_HUB_DISABLE_XET=1) have no Xet hash: a Xet-enabled client
    downloads them over plain HTTP."""
    files = {"weights.bin": random_bytes(3 * MB, 11), "sub/more.bin": random_bytes(MB, 12)}
    repo_id = new_repo(sqlite_hub)
    api = sqlite_hub.api("alice")
    for path, data in files.items():
        api.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id)
    stored = xet_file_shas(sqlite_hub)
    assert not {sha256(d) for d in files.values()} & stored  # plain LFS objects, not CAS files
    xet_env.take()
    got = ops(
        sqlite_hub,
        tmp_path / "home",
        *({"op": "download", "repo": repo_id, "file": p} for p in files),
        {"op": "snapshot", "repo": repo_id},
        user=None,
    )
    assert got[:2] == [{"sha256": sha256(d), "size": len(d)} for d in files.values()]
    assert {p: got[2][p] for p in files} == {p: sha256(d) for p, d in files.items()}
    calls = xet_env.take()
    assert calls["xet_get"] == 0 and calls["http_get"] >= len(files), calls
