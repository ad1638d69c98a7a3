"""`haven backup` / `haven restore`: a backup taken while commits land restores into an empty data directory
and database as a hub that serves the same files, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import threading
import uuid
from pathlib import Path

import httpx
import pytest
from huggingface_hub import HfApi, hf_hub_download

from tests.conftest import Hub
from tests.recovery.conftest import SERVER_ENV, haven, start, xet_upload
from tests.support import Postgres, Server, tempdir


def _committer(api: HfApi, repo: str, stop: threading.Event, done: list[str]) -> None:
    """Commit one file after another (small files and LFS objects) until told to stop."""
    i = 0
    while not stop.is_set():
        name, data = (f"step{i}.bin", os.urandom(20_000)) if i % 2 else (f"step{i}.txt", f"step {i}\n".encode())
        api.upload_file(path_or_fileobj=data, path_in_repo=name, repo_id=repo)
        done.append(name)
        i += 1


def _files_at(api: HfApi, repo: str, revision: str, cache: Path) -> dict[str, bytes]:
    out = {}
    for path in api.list_repo_files(repo, revision=revision):
        local = hf_hub_download(repo, path, revision=revision, endpoint=api.endpoint, token=api.token, cache_dir=cache)
        out[path] = Path(local).read_bytes()
    return out


def test_backup_during_commits_restores_to_a_hub_serving_the_same_files(
    own_hub: Hub, postgres: Postgres | None, tmp_path: Path
) -> None:
    api = own_hub.api()
    static, busy = f"alice/static-{uuid.uuid4().hex[:6]}", f"alice/busy-{uuid.uuid4().hex[:6]}"
    for repo in (static, busy):
        api.create_repo(repo)
    api.upload_file(path_or_fileobj=os.urandom(150_000), path_in_repo="weights.bin", repo_id=static)
    api.upload_file(path_or_fileobj=b"# Static\n\nA card.\n", path_in_repo="README.md", repo_id=static)
    xet_upload(own_hub, static, "model.safetensors", os.urandom(250_000), tmp_path)
    headers = {"authorization": f"Bearer {own_hub.tokens['bob']}"}
    assert httpx.post(f"{own_hub.url}/api/models/{static}/like", headers=headers).status_code == 200

    dest = tmp_path / "backup"
    stop, done = threading.Event(), []
    committer = threading.Thread(target=_committer, args=(api, busy, stop, done))
    committer.start()
    try:
        while len(done) < 2:
            stop.wait(0.1)
        taken = haven(own_hub, "backup", str(dest), "-q")
        seen = len(done)
        while len(done) < seen + 2:  # commits keep landing after the backup, too
            stop.wait(0.1)
    finally:
        stop.set()
        committer.join()
    assert taken.code == 0, taken.stderr

    data_dir = tempdir("haven-restored-") / "data"
    url = postgres.create_database(f"haven_r{uuid.uuid4().hex[:8]}") if own_hub.backend == "postgres" else None
    restored = Server(data_dir, database_url=url, extra_env=dict(SERVER_ENV))
    # no database URL for SQLite: the restored hub's is <data_dir>/haven.db, not the source's
    env = {"HAVEN_DATABASE_URL": url} if url else {"HAVEN_DATABASE_URL": ""}
    result = haven(own_hub, "restore", str(dest), "-q", env=env, data_dir=data_dir)
    assert result.code == 0, result.stdout + result.stderr
    # restore refuses a target that is not empty
    again = haven(own_hub, "restore", str(dest), "-q", env=env, data_dir=data_dir)
    assert again.code == 1 and "not empty" in again.stderr

    start(restored)
    try:
        mirror = HfApi(endpoint=restored.url, token=own_hub.tokens["alice"])
        for repo in (static, busy):
            head = mirror.model_info(repo).sha
            assert head in {c.commit_id for c in api.list_repo_commits(repo)}
            assert _files_at(mirror, repo, head, tmp_path / "restored") == _files_at(
                api, repo, head, tmp_path / "source"
            )
        assert mirror.model_info(static).likes == 1
        assert [m.id for m in mirror.list_models(search="static")] == [static]
        assert haven_fsck_ok(own_hub, data_dir, env)
    finally:
        restored.stop()

    def new_bytes() -> int:
        run = haven(own_hub, "backup", str(dest))
        assert run.code == 0, run.stderr
        assert "database" in run.stderr and "blobs" in run.stderr  # the progress bars
        return json.loads((dest / "snapshot" / "manifest.json").read_text())["new_object_bytes"]

    assert new_bytes() > 0  # the LFS objects of the commits that landed after the first backup
    assert new_bytes() == 0  # nothing new: incremental


def haven_fsck_ok(hub: Hub, data_dir: Path, env: dict[str, str]) -> bool:
    run = haven(hub, "fsck", "--json", "--verify-hashes", env=env, data_dir=data_dir)
    assert run.code == 0, run.stdout
    return run.json()["ok"]


def test_a_backup_restores_into_the_other_database(own_hub: Hub, postgres: Postgres | None, tmp_path: Path) -> None:
    """The dump is portable: SQLite to PostgreSQL and back (also how a hub moves to PostgreSQL)."""
    if postgres is None:
        pytest.skip("PostgreSQL is not installed")
    api = own_hub.api()
    repo = f"alice/moving-{uuid.uuid4().hex[:6]}"
    api.create_repo(repo)
    api.upload_file(path_or_fileobj=os.urandom(80_000), path_in_repo="weights.bin", repo_id=repo)
    xet_upload(own_hub, repo, "model.safetensors", os.urandom(120_000), tmp_path)
    dest = tmp_path / "backup"
    assert haven(own_hub, "backup", str(dest), "-q").code == 0

    data_dir = tempdir("haven-moved-") / "data"
    url = None if own_hub.backend == "postgres" else postgres.create_database(f"haven_m{uuid.uuid4().hex[:8]}")
    env = {"HAVEN_DATABASE_URL": url or ""}
    result = haven(own_hub, "restore", str(dest), "-q", env=env, data_dir=data_dir)
    assert result.code == 0, result.stdout + result.stderr
    moved = Server(data_dir, database_url=url, extra_env=dict(SERVER_ENV))
    start(moved)
    try:
        mirror = HfApi(endpoint=moved.url, token=own_hub.tokens["alice"])
        head = api.model_info(repo).sha
        assert mirror.model_info(repo).sha == head
        assert _files_at(mirror, repo, head, tmp_path / "moved") == _files_at(api, repo, head, tmp_path / "source")
        mirror.upload_file(path_or_fileobj=b"new", path_in_repo="after.txt", repo_id=repo)  # ids continue
        mirror.create_repo(f"alice/fresh-{uuid.uuid4().hex[:6]}")
    finally:
        moved.stop()
