"""Pre-seeding: mirror a repository and fetch every large file of a revision now, not on first download
(for sites about to lose their connection, or before `haven export` carries them across an air gap)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select

from haven.errors import BadRequest, NotFound, RevisionNotFound
from haven.git.store import open_repo
from haven.hub import Hub
from haven.mirror import service, upstream
from haven.mirror.models import MirrorRepo
from haven.mirror.rules import config
from haven.names import REPO_TYPES
from haven.repos.models import Repo

Progress = Callable[[int], None]  # bytes received since the last call


@dataclass(frozen=True)
class PullPlan:
    repo_id: int
    commit: str
    missing: list[tuple[str, str, int]]  # (path, sha256, size) of files whose bytes Haven lacks


def plan(hub: Hub, repo_type: str, full_id: str, revision: str | None) -> PullPlan:
    """Mirror (or refresh) the repository and list the large files of `revision` not stored yet."""
    if repo_type not in REPO_TYPES:
        raise BadRequest(f"Invalid repo type {repo_type!r}")
    cfg = config(hub.settings)
    source = cfg.upstream_for(repo_type, full_id)
    if source is None:
        raise NotFound(f"No configured upstream may supply {repo_type} {full_id} (check the mirror rules)")
    repo_id = _repo_id(hub, repo_type, full_id)
    if repo_id is None:
        repo_id = service.create(hub, cfg, source, repo_type, full_id)
        if repo_id is None:
            raise NotFound(f"{full_id} is not available upstream, or its licence is not allowed")
    else:
        service.fetch(hub, source, repo_id, cfg.timeout)
    with hub.db.read() as session:
        row = session.get(Repo, repo_id)
        assert row is not None
        git = open_repo(hub.repo_path(row.storage_key))
    commit = git.resolve(revision or "main")
    if commit is None:
        raise RevisionNotFound(f"Invalid rev id: {revision}")
    missing = [
        (e.path, e.pointer.oid, e.pointer.size)
        for e in git.list_tree(commit, recursive=True)
        if e.pointer is not None and hub.blobs.size(e.pointer.oid) is None
    ]
    return PullPlan(repo_id, commit, sorted(set(missing)))


def _repo_id(hub: Hub, repo_type: str, full_id: str) -> int | None:
    with hub.db.read() as session:
        found = session.execute(
            select(Repo.id, MirrorRepo.repo_id)
            .outerjoin(MirrorRepo, MirrorRepo.repo_id == Repo.id)
            .where(Repo.type == repo_type, Repo.full_id == full_id)
        ).first()
    if found is not None and found[1] is None:
        raise BadRequest(f"{full_id} is a local repository, not a mirror")
    return None if found is None else found[0]


def fetch_file(
    hub: Hub, repo_type: str, full_id: str, commit: str, path: str, oid: str, size: int, progress: Progress
) -> None:
    """Copy one file's bytes from the upstream into the blob store (verified against its sha256 first)."""
    cfg = config(hub.settings)
    source = cfg.upstream_for(repo_type, full_id)
    if source is None:
        raise NotFound(f"No configured upstream may supply {full_id}")
    writer = hub.blobs.writer()
    try:
        with upstream.open_file(source, repo_type, full_id, commit, path, cfg.timeout) as response:
            for chunk in response.chunks(1 << 20):
                writer.write(chunk)
                progress(len(chunk))
        writer.commit(oid, size)
    except BaseException:
        writer.abort()
        raise
