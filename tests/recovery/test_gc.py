"""`haven gc`: deletes unreferenced old blobs and nothing a ref, an upload or the grace period protects."""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path

from huggingface_hub import CommitOperationAdd, hf_hub_download

from tests.conftest import Hub
from tests.recovery.conftest import HAVEN, age, age_xet_file, blob_path, haven, lfs_oid, sql, xet_upload, xorb_path

HOUR = 3600


def _orphan(hub: Hub, repo_id: str, branch: str, path: str, data: bytes) -> str:
    """An LFS object committed only to a branch that is then deleted: referenced by no ref."""
    api = hub.api()
    api.create_branch(repo_id, branch=branch)
    api.upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id, revision=branch)
    oid = lfs_oid(hub, repo_id, path, revision=branch)
    api.delete_branch(repo_id, branch=branch)
    return oid


def test_gc_deletes_only_old_unreferenced_blobs(own_hub: Hub, repo_name: str, tmp_path: Path) -> None:
    api = own_hub.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    kept_bytes, pr_bytes = os.urandom(50_000), os.urandom(50_000)
    api.upload_file(path_or_fileobj=kept_bytes, path_in_repo="kept.bin", repo_id=repo)
    kept = lfs_oid(own_hub, repo, "kept.bin")
    pr = api.create_commit(repo, [CommitOperationAdd("pr.bin", pr_bytes)], commit_message="a proposal", create_pr=True)
    in_pr = lfs_oid(own_hub, repo, "pr.bin", revision=pr.pr_revision)
    old = _orphan(own_hub, repo, "scratch", "old.bin", os.urandom(50_000))
    fresh = _orphan(own_hub, repo, "scratch2", "fresh.bin", os.urandom(50_000))
    for oid in (kept, in_pr, old):
        age(own_hub, oid, 2 * HOUR)

    dry = haven(own_hub, "gc", "--grace", "1h", "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert dry.json()["deleted_blobs"] == [old]
    assert blob_path(own_hub, old).exists()

    run = haven(own_hub, "gc", "--grace", "1h", "--json")
    assert run.code == 0, run.stderr
    assert run.json()["deleted_blobs"] == [old]
    assert run.json()["kept_young"] >= 1  # fresh: unreferenced, but inside the grace period
    assert not blob_path(own_hub, old).exists()
    assert all(blob_path(own_hub, oid).exists() for oid in (kept, in_pr, fresh))
    cache = tmp_path / "cache"
    assert Path(hf_hub_download(repo, "kept.bin", endpoint=own_hub.url, cache_dir=cache)).read_bytes() == kept_bytes
    pr_file = hf_hub_download(repo, "pr.bin", revision=pr.pr_revision, endpoint=own_hub.url, cache_dir=cache)
    assert Path(pr_file).read_bytes() == pr_bytes
    assert haven(own_hub, "fsck").code == 0
    bad = haven(own_hub, "gc", "--grace", "soon")
    assert bad.code == 2 and "not a duration" in bad.stderr


def test_gc_running_during_uploads_and_commits_never_breaks_them(own_hub: Hub, repo_name: str, tmp_path: Path) -> None:
    api = own_hub.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    doomed = [_orphan(own_hub, repo, f"old{i}", f"old{i}.bin", os.urandom(30_000)) for i in range(3)]
    for oid in doomed:
        age(own_hub, oid, 2 * HOUR)
    stop = threading.Event()
    runs: list[subprocess.CompletedProcess[str]] = []

    def collect() -> None:
        args = [*HAVEN, "gc", "--grace", "30s", "-q", "--data-dir", str(own_hub.server.data_dir)]
        while not stop.is_set():
            runs.append(subprocess.run(args, env=own_hub.server.env, capture_output=True, text=True, check=False))

    collector = threading.Thread(target=collect)
    collector.start()
    files = {}
    try:
        for i in range(6):
            files[f"w{i}.bin"] = os.urandom(40_000)
            api.upload_file(path_or_fileobj=files[f"w{i}.bin"], path_in_repo=f"w{i}.bin", repo_id=repo)
    finally:
        while not runs:  # at least one whole gc overlapped the uploads
            stop.wait(0.2)
        stop.set()
        collector.join()
    assert all(r.returncode == 0 for r in runs), [r.stderr for r in runs]
    assert not any(blob_path(own_hub, oid).exists() for oid in doomed)
    for path, data in files.items():
        local = hf_hub_download(repo, path, endpoint=own_hub.url, cache_dir=tmp_path / "cache")
        assert Path(local).read_bytes() == data
    assert haven(own_hub, "fsck").code == 0


def test_gc_deletes_the_xorbs_only_unreferenced_xet_files_read(own_hub: Hub, repo_name: str, tmp_path: Path) -> None:
    api = own_hub.api()
    repo = f"alice/{repo_name}"
    api.create_repo(repo)
    kept_bytes = os.urandom(200_000)
    xet_upload(own_hub, repo, "kept.safetensors", kept_bytes, tmp_path)
    api.create_branch(repo, branch="scratch")
    xet_upload(own_hub, repo, "gone.safetensors", os.urandom(200_000), tmp_path, revision="scratch")
    gone = lfs_oid(own_hub, repo, "gone.safetensors", revision="scratch")
    api.delete_branch(repo, branch="scratch")
    kept_xorbs = age_xet_file(own_hub, lfs_oid(own_hub, repo, "kept.safetensors"), 2 * HOUR)
    gone_xorbs = age_xet_file(own_hub, gone, 2 * HOUR)
    assert gone_xorbs and not set(gone_xorbs) & set(kept_xorbs)

    run = haven(own_hub, "gc", "--grace", "1h", "--json")
    assert run.code == 0, run.stderr
    report = run.json()
    assert sorted(report["deleted_xorbs"]) == sorted(gone_xorbs) and report["xet_files"] == 1
    assert not any(xorb_path(own_hub, x).exists() for x in gone_xorbs)
    assert all(xorb_path(own_hub, x).exists() for x in kept_xorbs)
    assert not sql(own_hub, "SELECT 1 FROM xet_files WHERE sha256 = :s", s=gone)
    local = hf_hub_download(repo, "kept.safetensors", endpoint=own_hub.url, cache_dir=tmp_path / "cache")
    assert Path(local).read_bytes() == kept_bytes
    assert haven(own_hub, "fsck", "--verify-hashes").code == 0
