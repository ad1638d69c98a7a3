"""Repositories across an air gap: one tar file holding a git bundle of every ref, the large files the
refs' trees point to, and the repository's metadata. Import verifies every file against its sha256 and
the bundle with git before the repository appears."""

from __future__ import annotations

import io
import json
import secrets
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from haven import search
from haven.auth.models import ORG, Account
from haven.cas import service as cas
from haven.db import utcnow
from haven.errors import BadRequest, Conflict, NotFound
from haven.git.store import GitRepo, open_repo
from haven.hub import Hub
from haven.mirror.models import MirrorNamespace, MirrorRepo
from haven.names import REPO_TYPES, check_name, check_namespace
from haven.repos import lfs
from haven.repos.commits import after_commit
from haven.repos.models import Repo
from haven.repos.service import RepoRef
from haven.storage.local import OID_RE

FORMAT = 1
NEVER_CHECKED = utcnow().replace(year=2000)  # an imported mirror asks its upstream (if reachable) at once


def export(hub: Hub, repo_type: str, full_id: str, dest: Path) -> int:
    """Write the bundle to `dest` (atomically: a partial file never has the final name); returns the number
    of large files included."""
    with hub.db.read() as session:
        row = session.scalar(select(Repo).where(Repo.type == repo_type, Repo.full_id == full_id))
        if row is None:
            raise NotFound(f"Repository not found: {repo_type} {full_id}")
        upstream = session.scalar(select(MirrorRepo.upstream).where(MirrorRepo.repo_id == row.id))
        meta = {"format": FORMAT, "type": repo_type, "id": full_id, "private": row.private, "gated": row.gated}
    meta["upstream"] = upstream
    git = open_repo(hub.repo_path(row.storage_key))
    objects = large_files(git)
    missing = [oid for oid in objects if hub.blobs.size(oid) is None and cas.file_by_sha256(hub, oid) is None]
    if missing:
        raise BadRequest(f"{len(missing)} large files are not stored here yet (run `haven mirror pull` first)")
    part = dest.with_name(dest.name + ".part")
    with tempfile.TemporaryDirectory(dir=hub.settings.data_dir) as work:
        bundle = Path(work) / "repo.bundle"
        _git(git.path, "bundle", "create", str(bundle), "--all")
        with tarfile.open(part, "w") as tar:
            _add_bytes(tar, "metadata.json", json.dumps(meta).encode())
            tar.add(bundle, "repo.bundle")
            for oid in sorted(objects):
                _add_object(hub, tar, oid, Path(work))
    part.replace(dest)
    return len(objects)


def large_files(git: GitRepo) -> dict[str, int]:
    """sha256 -> size of every LFS/Xet file in the trees the refs point to."""
    found: dict[str, int] = {}
    for name in git.refs():
        commit = git.resolve(name)
        if commit is None:
            continue
        for entry in git.list_tree(commit, recursive=True):
            if entry.pointer is not None:
                found[entry.pointer.oid] = entry.pointer.size
    return found


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    tar.addfile(info, io.BytesIO(data))


def _add_object(hub: Hub, tar: tarfile.TarFile, oid: str, work: Path) -> None:
    path = hub.blobs.local_path(oid)
    if path is None or hub.blobs.size(oid) is None:  # Xet-stored: rebuilt from its chunks
        info = cas.file_by_sha256(hub, oid)
        assert info is not None
        path = work / oid
        with open(path, "wb") as f:
            for piece in cas.iter_file(hub, info):
                f.write(piece)
    tar.add(path, f"blobs/{oid}")
    if path.parent == work:
        path.unlink()


def import_(hub: Hub, bundle: Path) -> tuple[str, str]:
    """Create the repository the bundle holds; its large files go into the blob store (verified)."""
    with tempfile.TemporaryDirectory(dir=hub.settings.data_dir) as work:
        try:
            with tarfile.open(bundle) as tar:
                tar.extractall(work, filter="data")
        except (tarfile.TarError, OSError) as e:
            raise BadRequest(f"{bundle} is not a Haven export: {e}") from None
        meta = _metadata(Path(work) / "metadata.json")
        objects = _store_objects(hub, Path(work) / "blobs")
        storage_key = secrets.token_hex(16)
        path = hub.repo_path(storage_key)
        git = GitRepo.init(path)
        try:
            _git(path, "bundle", "verify", str(Path(work) / "repo.bundle"))
            _git(path, "fetch", "--quiet", str(Path(work) / "repo.bundle"), "+refs/*:refs/*")
            row = _record(hub, meta, storage_key, objects)
        except BaseException:
            shutil.rmtree(path, ignore_errors=True)
            raise
    head = git.ref("refs/heads/main")
    if head is not None:
        after_commit(hub, RepoRef(row, open_repo(path), path), "refs/heads/main", head)
    return meta["type"], meta["id"]


def _metadata(path: Path) -> dict[str, Any]:
    try:
        meta = json.loads(path.read_text())
    except (OSError, ValueError):
        raise BadRequest("The bundle has no readable metadata.json") from None
    if meta.get("format") != FORMAT or meta.get("type") not in REPO_TYPES or not isinstance(meta.get("id"), str):
        raise BadRequest("The bundle's metadata.json is not a Haven export of a known format")
    namespace, _, name = meta["id"].partition("/")
    check_namespace(namespace)
    check_name(name)
    return meta


def _store_objects(hub: Hub, folder: Path) -> dict[str, int]:
    stored: dict[str, int] = {}
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if not OID_RE.match(path.name):
            raise BadRequest(f"Unexpected file in the bundle: blobs/{path.name}")
        writer = hub.blobs.writer()
        try:
            with open(path, "rb") as f:
                while data := f.read(1 << 20):
                    writer.write(data)
            writer.commit(path.name, path.stat().st_size)  # refuses bytes that do not hash to their name
        except BaseException:
            writer.abort()
            raise
        stored[path.name] = path.stat().st_size
    return stored


def _record(hub: Hub, meta: dict[str, Any], storage_key: str, objects: dict[str, int]) -> Repo:
    """The repository's row with its LFS objects, in one transaction: no crash leaves refs without links."""
    namespace, name = meta["id"].split("/")
    upstream = meta.get("upstream")
    try:
        with hub.db.write() as session:
            account = session.scalar(select(Account).where(Account.name == namespace))
            if account is None and not upstream:
                raise NotFound(f"Create the namespace {namespace!r} (user or organisation) before importing")
            if account is None:
                account = Account(name=namespace, kind=ORG)
                session.add(account)
                session.flush()
                session.add(MirrorNamespace(account_id=account.id, upstream=upstream))
            gated = meta.get("gated")
            row = Repo(
                type=meta["type"],
                owner_id=account.id,
                namespace=namespace,
                name=name,
                full_id=meta["id"],
                storage_key=storage_key,
                private=bool(meta.get("private")),
                gated=gated if gated in ("auto", "manual") else None,
                tags=[],
            )
            session.add(row)
            session.flush()
            if upstream:
                session.add(MirrorRepo(repo_id=row.id, upstream=upstream, checked_at=NEVER_CHECKED))
            lfs.record(session, row.id, objects)
            search.index_card(session, row.id, meta["id"], "", [])
            return row
    except IntegrityError:
        raise Conflict(f"A {meta['type']} named {meta['id']} already exists") from None


def _git(repo: Path, *args: str) -> None:
    proc = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise BadRequest(f"git {args[0]} failed: {proc.stderr.strip()[-500:]}")
