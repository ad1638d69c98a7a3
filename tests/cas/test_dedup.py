"""Deduplication with the stock client: a new version of a 20 MB file that rewrites 1 MB costs about 1 MB of
new xorb bytes (one inserting 100 kB about 100 kB), even from a fresh client cache (global dedup through
/v1/chunks), and every version downloads."""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

from tests.cas._xet import OPS, Probe, new_repo, random_bytes, storage, xorb_dir_bytes, xorb_rows_bytes
from tests.clients._run import run_script
from tests.conftest import Hub

MB = 1024 * 1024
# Seeds of this run only: other suites in the same session upload seeded random data to the same hub.
SEED = random.SystemRandom().randrange(1 << 40) * 100
SIZE = 20 * MB
CHANGED = MB
SLACK = 512 * 1024  # the chunks straddling each edit (at most 128 KiB each) are new too


def upload(hub: Hub, home: Path, repo_id: str, src: Path) -> tuple[str, int, int]:
    """Upload `src` as big.bin from a client with its own cache; (commit, new xorb bytes on disk, in the table)."""
    disk, rows = xorb_dir_bytes(hub), xorb_rows_bytes(hub)
    op = {"op": "upload_file", "repo": repo_id, "src": str(src), "dst": "big.bin"}
    [commit] = run_script(hub, OPS, json.dumps(op), home=home)
    return commit, xorb_dir_bytes(hub) - disk, xorb_rows_bytes(hub) - rows


def test_a_small_change_stores_only_the_changed_bytes(sqlite_hub: Hub, xet_env: Probe, tmp_path: Path) -> None:
    v1 = random_bytes(SIZE, SEED + 21)
    v2 = bytearray(v1)
    v2[7 * MB : 7 * MB + CHANGED] = random_bytes(CHANGED, SEED + 22)  # 1 MB rewritten in place
    v3 = (
        v1[: 12 * MB] + random_bytes(100_000, SEED + 23) + v1[12 * MB :]
    )  # 100 kB inserted: later bytes shift, CDC resyncs
    versions = [bytes(v1), bytes(v2), bytes(v3)]
    for i, data in enumerate(versions):
        (tmp_path / f"v{i + 1}.bin").write_bytes(data)
    repo_id = new_repo(sqlite_hub)
    files_before = len(storage(sqlite_hub)["files"])

    # Each from a fresh client cache: nothing is known locally, the dedup comes from the server (global dedup).
    results = [upload(sqlite_hub, tmp_path / f"home{i}", repo_id, tmp_path / f"v{i + 1}.bin") for i in range(3)]
    (c1, disk1, rows1), (c2, disk2, rows2), (c3, disk3, rows3) = results
    print(f"\nxorb bytes stored: v1 {disk1} (table {rows1}), v2 {disk2} (table {rows2}), v3 {disk3} (table {rows3})")
    assert disk1 == rows1 and disk2 == rows2 and disk3 == rows3
    assert SIZE <= disk1 <= SIZE * 1.01  # random bytes do not compress: all of it, plus 8-byte chunk headers
    assert CHANGED <= disk2 <= CHANGED + SLACK
    assert 100_000 <= disk3 <= 100_000 + SLACK
    assert len(storage(sqlite_hub)["files"]) == files_before + 3

    xet_env.take()
    got = run_script(
        sqlite_hub,
        OPS,
        *(json.dumps({"op": "download", "repo": repo_id, "file": "big.bin", "revision": c}) for c in (c1, c2, c3)),
        user=None,
        home=tmp_path / "download-home",
    )
    assert [g["sha256"] for g in got] == [hashlib.sha256(d).hexdigest() for d in versions]
    assert xet_env.take()["xet_get"] == 3
    api = sqlite_hub.api(None)  # and without Xet
    for commit, data in zip((c1, c2, c3), versions, strict=True):
        path = api.hf_hub_download(repo_id, "big.bin", revision=commit, cache_dir=tmp_path / "plain")
        assert Path(path).read_bytes() == data


def test_a_fresh_client_reuses_the_changes_of_every_earlier_version(
    sqlite_hub: Hub, xet_env: Probe, tmp_path: Path
) -> None:
    """Fine-tunes pushed from different machines: v2 changes one region of v1, v3 keeps that change and changes
    another. v2's new xorb is small and may hold no globally eligible chunk, so v3's client can only learn of it
    from the answer to a chunk it shares with v1: the answer carries the xorbs of the files that read v1's."""
    v1 = random_bytes(SIZE, SEED + 31)
    v2 = bytearray(v1)
    v2[3 * MB : 3 * MB + CHANGED] = random_bytes(CHANGED, SEED + 32)
    v3 = bytearray(v2)
    v3[15 * MB : 15 * MB + CHANGED] = random_bytes(CHANGED, SEED + 33)
    repo_id = new_repo(sqlite_hub)
    stored = []
    for i, data in enumerate((v1, v2, v3)):
        src = tmp_path / f"v{i + 1}.bin"
        src.write_bytes(bytes(data))
        stored.append(upload(sqlite_hub, tmp_path / f"home{i}", repo_id, src)[1])
    print(f"\nxorb bytes stored per version: {stored}")
    assert CHANGED <= stored[1] <= CHANGED + SLACK
    assert CHANGED <= stored[2] <= CHANGED + SLACK  # not 2 MB: v2's changed megabyte was found, not sent again
