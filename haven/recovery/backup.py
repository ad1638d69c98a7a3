"""`haven backup DEST` and `haven restore DEST`: a consistent copy of a running hub, and a new hub from it.

Order makes a backup consistent while commits keep landing. Every upload is stored before the commit that
references it, and every git object before the ref that reaches it, so the backup reads:

1. the refs of every repository (R);
2. the database, in one snapshot (D, after R: it knows every Xet file and xorb R's commits need);
3. git objects, then blobs and xorbs (after D: every object R reaches and D names is there; objects are
   immutable and content-addressed, so only those the destination lacks are copied: incremental).

The backup's refs are R, not what the directories hold by the time they are copied. A repository created
between R and D gets its main from D (head_sha, recorded when it was created). The database may be a
little ahead of R (a head recorded after R was read, an LFS object recorded by a later commit): restore
reconciles the derived state with git exactly as `haven fsck --repair` does.

Layout of DEST: `objects/blobs/` and `objects/xorbs/` (as in a data dir), `git/` (the repositories'
objects and config, never their refs), and `snapshot/` (a symlink to the current snapshot-<time>/ directory: manifest.json, db/,
refs.json, secret.key), which a new backup writes beside and swaps in with one atomic rename once
everything it needs is copied: an interrupted backup leaves the previous one whole.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pygit2
from sqlalchemy import select

from haven import search
from haven.config import Settings
from haven.hub import Hub
from haven.recovery import dbdump, fsck, reconcile
from haven.recovery.progress import Progress, Silent
from haven.recovery.reachability import ref_targets
from haven.repos.models import Repo
from haven.storage.base import BlobStore
from haven.storage.local import LocalBlobStore

COPY_CHUNK = 1 << 20
GIT_SKIP = {"refs", "packed-refs", "logs", "haven.lock", "FETCH_HEAD", "ORIG_HEAD"}


class RestoreRefused(Exception):
    """The target is not empty, or the backup is incomplete."""


def backup(hub: Hub, dest: Path, progress: Progress | None = None) -> dict[str, Any]:
    progress = progress or Silent()
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / f"snapshot.new-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        refs = _read_refs(hub, progress)
        with dbdump.snapshot(hub.db.engine) as conn:
            db_info = dbdump.dump(conn, staging / "db", progress)
            repos = {r.storage_key: r.head_sha for r in conn.execute(select(Repo.storage_key, Repo.head_sha)).all()}
        kept = {key: refs[key] if key in refs else _main_only(head) for key, head in repos.items()}
        missing = _copy_git(hub, dest / "git", sorted(kept), progress)
        vanished = [key for key in missing if key in refs]  # deleted during the backup, not lost before it
        copied = _copy_store(hub.blobs, dest / "objects" / "blobs", progress, "blobs")
        copied += _copy_store(hub.xorbs, dest / "objects" / "xorbs", progress, "xorbs")
        (staging / "refs.json").write_text(json.dumps(kept, sort_keys=True))
        secret = hub.settings.data_dir / "secret.key"
        if secret.exists():
            shutil.copy2(secret, staging / "secret.key")
        manifest = {
            "created_at": datetime.now(UTC).isoformat(),
            "repositories": len(kept) - len(vanished),
            "deleted_during_backup": vanished,
            "new_object_bytes": copied,
            "database": db_info,
        }
        (staging / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        _swap_in(staging, dest / "snapshot")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return manifest


def _main_only(head: str | None) -> dict[str, str]:
    return {"refs/heads/main": head} if head else {}


def _read_refs(hub: Hub, progress: Progress) -> dict[str, dict[str, str]]:
    dirs = fsck.git_dirs(hub)
    advance = progress.task("refs", len(dirs))
    out = {}
    for key, path in dirs.items():
        with contextlib.suppress(pygit2.GitError, KeyError):  # deleted meanwhile
            out[key] = ref_targets(pygit2.Repository(str(path)))
        advance(1)
    return out


def _swap_in(staging: Path, link: Path) -> None:
    """Point `link` (a symlink) at the new snapshot in one atomic rename, then drop the one it replaces."""
    final = staging.with_name(f"snapshot-{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(2)}")
    os.rename(staging, final)
    previous = link.resolve() if link.is_symlink() else None
    tmp = link.with_name(f".snapshot.link-{secrets.token_hex(4)}")
    os.symlink(final.name, tmp)
    os.replace(tmp, link)
    if previous is not None and previous != final.resolve():
        shutil.rmtree(previous, ignore_errors=True)


# --- copying immutable files -----------------------------------------------------------------------


def _copy_file(src: Path, dest: Path) -> int:
    """Copy unless `dest` already has the same size; through a temp name, so a copy is whole or absent."""
    try:
        size = src.stat().st_size
    except FileNotFoundError:
        return 0
    with contextlib.suppress(FileNotFoundError):
        if dest.stat().st_size == size:
            return 0
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp-{secrets.token_hex(4)}")
    try:
        shutil.copy2(src, tmp)
        os.replace(tmp, dest)
    except FileNotFoundError:  # the source went away (gc): nothing to copy
        tmp.unlink(missing_ok=True)
        return 0
    return size


def _copy_store(store: BlobStore, dest: Path, progress: Progress, name: str) -> int:
    """New objects of a store into `dest` (a sha256/ab/cd/<oid> tree), read through the store's own API."""
    objects = list(store.list_objects())
    advance = progress.task(name, sum(o.size for o in objects))
    copied = 0
    for obj in objects:
        target = dest / "sha256" / obj.oid[:2] / obj.oid[2:4] / obj.oid
        with contextlib.suppress(FileNotFoundError):
            if target.stat().st_size == obj.size:
                advance(obj.size)
                continue
        copied += _stream_object(store, obj.oid, target)
        advance(obj.size)
    return copied


def _stream_object(store: BlobStore, oid: str, target: Path) -> int:
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{secrets.token_hex(4)}")
    local = store.local_path(oid)
    try:
        if local is not None:  # the kernel copies (copy_file_range / sendfile), as cp does
            shutil.copyfile(local, tmp)
        else:
            with store.open(oid) as src, open(tmp, "wb") as out:
                shutil.copyfileobj(src, out, COPY_CHUNK)
    except FileNotFoundError:  # deleted by gc since it was listed: no ref in the snapshot needs it
        tmp.unlink(missing_ok=True)
        return 0
    os.replace(tmp, target)
    return target.stat().st_size


def _copy_git(hub: Hub, dest: Path, keys: list[str], progress: Progress) -> list[str]:
    """Copy the repositories; returns the storage keys of those whose directories are gone."""
    advance = progress.task("git repositories", len(keys))
    missing = []
    for key in keys:
        src = hub.repo_path(key)
        if src.is_dir():
            _copy_repo(src, dest / key[:2] / f"{key}.git")
        else:
            missing.append(key)
        advance(1)
    return missing


def _copy_repo(src: Path, dest: Path) -> None:
    """Objects (immutable, so only new ones), config and the rest; never refs, which come from the snapshot."""
    for dirpath, dirnames, names in os.walk(src):
        rel = Path(dirpath).relative_to(src)
        dirnames[:] = [
            d for d in dirnames if not (rel == Path(".") and d in GIT_SKIP) and not d.startswith("incoming-")
        ]
        in_objects = rel.parts[:1] == ("objects",)
        for name in names:
            if (rel == Path(".") and name in GIT_SKIP) or name.endswith(".lock") or name.startswith("tmp_"):
                continue
            if in_objects and name.endswith(".pack") and not (Path(dirpath) / f"{name[:-5]}.idx").exists():
                continue  # a pack still being written: no ref in the snapshot needs it yet
            if in_objects and rel.parts[1:2] != ("info",):
                _copy_file(Path(dirpath) / name, dest / rel / name)
            else:  # small mutable files: always the current version
                (dest / rel).mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    shutil.copy2(Path(dirpath) / name, dest / rel / name)


# --- restore -------------------------------------------------------------------------------------


def restore(settings: Settings, src: Path, progress: Progress | None = None) -> fsck.Report:
    """Build a hub from a backup into an empty data directory and an empty database; returns the final fsck."""
    progress = progress or Silent()
    snapshot = src / "snapshot"
    if not (snapshot / "manifest.json").exists():
        raise RestoreRefused(f"{src} holds no complete backup (no snapshot/manifest.json)")
    manifest = json.loads((snapshot / "manifest.json").read_text())
    data_dir = settings.data_dir
    if data_dir.exists() and any(data_dir.iterdir()):
        raise RestoreRefused(f"the data directory {data_dir} is not empty")
    hub = Hub.open(settings)
    try:
        try:
            dbdump.load(hub.db, snapshot / "db", manifest["database"], progress)
        except dbdump.DumpMismatch as e:
            raise RestoreRefused(str(e)) from None
        _copy_store_back(src / "objects" / "blobs", hub.blobs, progress, "blobs", verify=True)
        _copy_store_back(src / "objects" / "xorbs", hub.xorbs, progress, "xorbs", verify=False)
        _forget_deleted(hub, manifest.get("deleted_during_backup", []))
        refs = json.loads((snapshot / "refs.json").read_text())
        _restore_git(hub, src / "git", refs, progress)
        if (snapshot / "secret.key").exists():
            shutil.copy2(snapshot / "secret.key", data_dir / "secret.key")
        _rebuild_search(hub, progress)
        return fsck.run(hub, repair=True, progress=progress)
    finally:
        hub.close()


def _copy_store_back(src: Path, store: LocalBlobStore, progress: Progress, name: str, verify: bool) -> None:
    """Objects into a store through its API: blobs through a writer, which checks each one's sha256 on the way."""
    files = [p for p in (src / "sha256").rglob("*") if p.is_file() and not p.name.startswith(".")]
    advance = progress.task(name, sum(p.stat().st_size for p in files))
    for path in files:
        size = path.stat().st_size
        if verify:
            writer = store.writer()
            try:
                with open(path, "rb") as f:
                    while chunk := f.read(COPY_CHUNK):
                        writer.write(chunk)
                writer.commit(path.name, size)
            except BaseException:
                writer.abort()
                raise
        else:  # xorbs are named by their Merkle hash, verified by fsck --verify-hashes instead
            store.publish_bytes(path.name, path.read_bytes())
        advance(size)


def _restore_git(hub: Hub, src: Path, refs: dict[str, dict[str, str]], progress: Progress) -> None:
    advance = progress.task("git repositories", len(refs))
    for key, named in refs.items():
        backup_dir = src / key[:2] / f"{key}.git"
        if not backup_dir.is_dir():
            continue  # fsck reports the repository's missing git directory
        target = hub.repo_path(key)
        shutil.copytree(backup_dir, target)
        for sub in ("refs/heads", "refs/tags"):
            (target / sub).mkdir(parents=True, exist_ok=True)
        for name, commit in named.items():
            ref = target / name
            ref.parent.mkdir(parents=True, exist_ok=True)
            ref.write_text(commit + "\n")
        advance(1)


def _forget_deleted(hub: Hub, keys: list[str]) -> None:
    """Repositories deleted while the backup ran are in its database but not in its git copy: their owners'
    deletion is the newer truth, so their rows go (with everything that hangs off them)."""
    if not keys:
        return
    with hub.db.write() as session:
        for repo in session.scalars(select(Repo).where(Repo.storage_key.in_(keys))):
            search.remove(session, repo.id)
            session.delete(repo)


def _rebuild_search(hub: Hub, progress: Progress) -> None:
    """Card data, tags and search documents from git (the search index is not in the dump)."""
    with hub.db.read() as session:
        ids = list(session.scalars(select(Repo.id)))
    advance = progress.task("search index", len(ids))
    for repo_id in ids:
        with hub.db.write() as session:
            repo = session.get(Repo, repo_id)
            if repo is not None and hub.repo_path(repo.storage_key).is_dir():
                reconcile.refresh_card_and_search(hub, session, repo)
        advance(1)
