"""`haven fsck`: clean on a healthy hub; finds each injected fault; `--repair` fixes the safe ones only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx

from tests.conftest import Hub
from tests.recovery.conftest import blob_path, haven, lfs_oid, sql, xet_upload


def _upload(hub: Hub, repo_id: str, path: str, data: bytes) -> None:
    hub.api().upload_file(path_or_fileobj=data, path_in_repo=path, repo_id=repo_id)


def _new_repo(hub: Hub, name: str) -> str:
    hub.api().create_repo(f"alice/{name}")
    return f"alice/{name}"


def _git_dir(hub: Hub, repo_id: str) -> Path:
    key = sql(hub, "SELECT storage_key FROM repos WHERE full_id = :id", id=repo_id)[0][0]
    return hub.server.data_dir / "repos" / key[:2] / f"{key}.git"


def test_a_healthy_hub_is_clean(own_hub: Hub, tmp_path: Path) -> None:
    repo = _new_repo(own_hub, "healthy")  # first on this module's hub: nothing injected yet
    _upload(own_hub, repo, "weights.bin", os.urandom(200_000))
    _upload(own_hub, repo, "config.json", b'{"model_type": "bert"}')
    xet_upload(own_hub, repo, "model.safetensors", os.urandom(300_000), tmp_path)
    like = httpx.post(
        f"{own_hub.url}/api/models/{repo}/like", headers={"authorization": f"Bearer {own_hub.tokens['bob']}"}
    )
    assert like.status_code == 200
    run = haven(own_hub, "fsck", "--json", "--verify-hashes")
    assert run.code == 0, run.stdout + run.stderr
    report = run.json()
    assert report["ok"] and report["findings"] == []
    assert report["objects"] >= 2 and report["commits"] >= 4


def test_finds_each_fault_and_repairs_only_the_safe_ones(own_hub: Hub) -> None:
    """Runs after the healthy check on the same hub (module scope): every finding here is injected."""
    api = own_hub.api()
    deleted, corrupted, broken, counted = (_new_repo(own_hub, n) for n in ("deleted", "corrupted", "broken", "counted"))
    _upload(own_hub, deleted, "a.bin", os.urandom(100_000))
    _upload(own_hub, corrupted, "b.bin", os.urandom(100_000))
    blob_path(own_hub, lfs_oid(own_hub, deleted, "a.bin")).unlink()
    corrupt = blob_path(own_hub, lfs_oid(own_hub, corrupted, "b.bin"))
    data = bytearray(corrupt.read_bytes())
    data[5000] ^= 0xFF
    corrupt.write_bytes(bytes(data))
    (_git_dir(own_hub, broken) / "refs" / "heads" / "ghost").write_text("1234567" * 5 + "89abc\n")
    sql(own_hub, "UPDATE repos SET likes = 7, head_sha = :h WHERE full_id = :id", h="0" * 40, id=counted)
    orphan = own_hub.server.data_dir / "repos" / "ff" / ("ff" * 16 + ".git")
    subprocess.run(["git", "init", "-q", "--bare", str(orphan)], check=True)
    os.utime(orphan, (1, 1))  # an hour old at least: a young directory may be a repository being created
    stale = own_hub.server.data_dir / "blobs" / "tmp" / "abandoned-upload"
    stale.write_bytes(b"half an upload")
    os.utime(stale, (1, 1))

    found = haven(own_hub, "fsck", "--json", "--verify-hashes")
    assert found.code == 1
    kinds = {(f["kind"], f["subject"]) for f in found.json()["findings"]}
    assert kinds == {
        ("lfs_missing", f"model:{deleted}"),
        ("lfs_wrong_hash", f"model:{corrupted}"),
        ("broken_ref", f"model:{broken}"),
        ("wrong_counters", f"model:{counted}"),
        ("stale_head", f"model:{counted}"),
        ("orphan_git_dir", str(orphan)),
        ("stale_temp_files", str(stale.parent)),
    }

    repaired = haven(own_hub, "fsck", "--repair", "--json", "--verify-hashes")
    assert repaired.code == 1  # missing and corrupt bytes and the broken ref need a person or a backup
    fixed = {f["kind"] for f in repaired.json()["findings"] if f["repaired"]}
    assert fixed == {"wrong_counters", "stale_head", "orphan_git_dir", "stale_temp_files"}

    after = haven(own_hub, "fsck", "--json", "--verify-hashes").json()["findings"]
    assert {f["kind"] for f in after} == {"lfs_missing", "lfs_wrong_hash", "broken_ref"}
    assert all(not f["repairable"] for f in after)
    info = api.model_info(counted)
    assert info.likes == 0
    assert info.sha == api.list_repo_refs(counted).branches[0].target_commit
    assert not orphan.exists() and not stale.exists()
    assert (own_hub.server.data_dir / "lost+found" / orphan.name / "HEAD").exists()

    refused = haven(own_hub, "gc", "--grace", "0")  # it cannot know what the broken ref's lost commit held
    assert refused.code == 1 and "nothing deleted" in refused.stderr
