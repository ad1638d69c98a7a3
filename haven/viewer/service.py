"""The viewer job: convert the head of main of a dataset to Parquet, commit it under refs/convert/parquet,
and record what it holds (configs, splits, files, features) for the API."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import update

from haven.db import utcnow
from haven.git.lfs import Pointer
from haven.git.store import GitRepo, Put, open_repo
from haven.hub import Hub
from haven.jobs.models import Job
from haven.jobs.queue import LEASE
from haven.repos import lfs
from haven.repos.commits import after_commit
from haven.repos.locks import repo_lock
from haven.repos.models import Repo
from haven.repos.service import RepoRef
from haven.viewer.models import DatasetViewer
from haven.viewer.runner import ConversionFailed, run_child
from haven.viewer.source import materialize

log = logging.getLogger("haven.viewer")
MAIN = "refs/heads/main"
PARQUET_REF = "refs/convert/parquet"
INDEX_DIR = ".search-index"  # the splits' search indexes, committed with the Parquet files they index
BOT = ("parquet-converter", "parquet-converter@haven.local")
CHUNK = 1024 * 1024


def refresh(hub: Hub, repo_id: int, heartbeat_key: tuple[str, str] | None = None) -> None:
    """Convert the dataset's current head of main, unless that head is converted already."""
    with hub.db.read() as session:
        row = session.get(Repo, repo_id)
        state = session.get(DatasetViewer, repo_id)
        done = state.commit if state is not None and state.status in ("ok", "failed") else None
    if row is None or row.type != "dataset":
        return
    path = hub.repo_path(row.storage_key)
    git = open_repo(path)
    head = git.ref(MAIN)
    if head is None or head == done:
        return
    _save(hub, repo_id, head, status="pending")
    work = Path(tempfile.mkdtemp(prefix="viewer-", dir=_tmp_root(hub)))
    try:
        manifest, error = _convert(hub, git, head, work, heartbeat_key)
        manifest["commit"] = head
        parquet_commit = None
        if manifest["configs"]:
            parquet_commit = publish(hub, RepoRef(row, git, path), head, work / "out", manifest)
        status = "ok" if parquet_commit else "failed"
        _save(hub, repo_id, head, status=status, manifest=manifest, parquet_commit=parquet_commit, error=error)
    except Exception as e:  # never leave the dataset "pending" forever; "error" lets the queue's retry run again
        _save(hub, repo_id, head, status="error", error=f"the conversion job failed: {e}"[:2000])
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _convert(
    hub: Hub, git: GitRepo, head: str, work: Path, heartbeat_key: tuple[str, str] | None
) -> tuple[dict[str, Any], str | None]:
    s = hub.settings
    placed = materialize(hub, git, head, work / "src")
    try:
        manifest = run_child(
            work, s.viewer_max_bytes, s.viewer_job_timeout, s.viewer_job_memory_mb, lambda: _renew(hub, heartbeat_key)
        )
    except ConversionFailed as e:
        manifest = {"configs": [], "errors": [{"error": str(e)}]}
    manifest["skipped_files"] = placed.skipped[:100]
    errors = manifest.get("errors") or []
    error = None if manifest["configs"] else "; ".join(e["error"] for e in errors)[:2000] or "no data files found"
    return manifest, error


def _renew(hub: Hub, key: tuple[str, str] | None) -> None:
    """Keep the running job's lease (it may take longer than LEASE) so no other worker starts it again."""
    if key is None:
        return
    with hub.db.write() as session:
        session.execute(
            update(Job)
            .where(Job.kind == key[0], Job.key == key[1], Job.status == "running")
            .values(lease_until=utcnow() + LEASE + timedelta(seconds=60))
        )


def publish(hub: Hub, ref: RepoRef, source: str, out: Path, manifest: dict[str, Any]) -> str:
    """Commit the Parquet files (as LFS objects) and a card listing the configs on refs/convert/parquet."""
    git = ref.git
    changes: list[Put] = []
    new_objects: dict[str, int] = {}
    for config in manifest["configs"]:
        for split in config["splits"]:
            index = split.get("search_index")
            if index:  # beside the data, but under a hidden folder that no data-file pattern matches
                index["path"] = f"{INDEX_DIR}/{split['directory']}.parquet"
            for f in split["files"] + ([index] if index else []):
                oid, size = _store(hub, out / split["directory"] / f["filename"])
                f.update(oid=oid, size=size)
                f.setdefault("path", f"{split['directory']}/{f['filename']}")
                new_objects[oid] = size
                changes.append(Put(f["path"], git.write_blob(Pointer(oid, size).encode())))
    changes.append(Put("README.md", git.write_blob(_card(manifest).encode())))
    with repo_lock(hub.db, ref):
        previous = git.ref(PARQUET_REF)
        tree = git.build_tree(None, changes)
        message = f"Update parquet files\n\nConverted from {source}.\n"
        commit = git.write_commit(tree, [previous] if previous else [], message, BOT)
        with hub.db.write() as session:
            lfs.record(session, ref.row.id, new_objects)
        git.update_ref(PARQUET_REF, commit, previous)
        after_commit(hub, ref, PARQUET_REF, commit)
    return commit


def _store(hub: Hub, path: Path) -> tuple[str, int]:
    """Stream a file into the blob store, hashing as it goes."""
    writer = hub.blobs.writer()
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while chunk := f.read(CHUNK):
                digest.update(chunk)
                writer.write(chunk)
        writer.commit(digest.hexdigest(), writer.size)
    except BaseException:
        writer.abort()
        raise
    return digest.hexdigest(), path.stat().st_size


def _card(manifest: dict[str, Any]) -> str:
    """A card whose `configs` name every config and split's files, so `datasets` loads each one as such."""
    configs = [
        {
            "config_name": c["config"],
            "data_files": [{"split": s["split"], "path": f"{s['directory']}/*.parquet"} for s in c["splits"]],
        }
        for c in manifest["configs"]
    ]
    front = yaml.safe_dump({"configs": configs}, sort_keys=False)
    return f"---\n{front}---\n\nParquet files converted by Haven's dataset viewer.\n"


def _save(hub: Hub, repo_id: int, commit: str, **values: Any) -> None:
    with hub.db.write() as session:
        if session.get(Repo, repo_id) is None:
            return
        row = session.get(DatasetViewer, repo_id)
        if row is None:
            row = DatasetViewer(repo_id=repo_id, commit=commit, status="pending")
            session.add(row)
        row.commit, row.updated_at = commit, utcnow()
        row.manifest = values.get("manifest", row.manifest if values.get("status") == "pending" else None)
        for key in ("status", "parquet_commit", "error"):
            if key in values:
                setattr(row, key, values[key])


def state(hub: Hub, repo_id: int) -> DatasetViewer | None:
    with hub.db.read() as session:
        return session.get(DatasetViewer, repo_id)


def _tmp_root(hub: Hub) -> Path:
    root = hub.settings.data_dir / "tmp" / "viewer"
    root.mkdir(parents=True, exist_ok=True)
    return root
