"""Mirrored repositories: created on first request from the upstream, kept fresh within a TTL, read-only.

A mirrored repository is an ordinary Haven repository (row, bare git, blobs) plus a MirrorRepo row naming
its upstream. Its history is fetched with git (identical commit ids), its large files on first download
(haven.api.mirror_files). When the upstream cannot be reached, what is held is served and the answer is
marked stale (haven.mirror.status)."""

from __future__ import annotations

import logging
import secrets
import shutil
import threading
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven import search
from haven.auth.models import ORG, Account
from haven.auth.permissions import Actor
from haven.db import utcnow
from haven.errors import BadRequest, RepoNotFound
from haven.git.store import GitRepo, open_repo
from haven.hub import Hub
from haven.mirror import status, upstream
from haven.mirror.models import MirrorNamespace, MirrorRepo
from haven.mirror.rules import MirrorConfig, Upstream, config
from haven.names import REPO_TYPES, check_name, check_namespace
from haven.repos.commits import refresh_card
from haven.repos.locks import RepoAt, repo_lock
from haven.repos.models import Repo
from haven.repos.service import RepoRef, touch, web_path

log = logging.getLogger("haven.mirror")
_LOCKS: dict[tuple[str, str], threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()
_DOWN_UNTIL: dict[int, float] = {}  # repo id -> monotonic time before which it is not asked again
RETRY_DOWN = 10.0  # seconds an unreachable upstream is left alone (at most the TTL)


def _lock(repo_type: str, full_id: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _LOCKS.setdefault((repo_type, full_id), threading.Lock())


def ensure(hub: Hub, actor: Actor, repo_type: str, full_id: str) -> None:
    """Make a mirrored repository current before it is looked up: created from the upstream when Haven does
    not hold it and the rules allow it, refreshed when its TTL ran out. Does nothing for local repositories
    or when mirroring is off; never raises for an unreachable upstream (the lookup then answers)."""
    cfg = config(hub.settings)
    if not cfg.enabled or repo_type not in REPO_TYPES or not _valid_id(full_id):
        return
    with hub.db.read() as session:
        found = session.execute(
            select(Repo.id, MirrorRepo.upstream, MirrorRepo.checked_at)
            .outerjoin(MirrorRepo, MirrorRepo.repo_id == Repo.id)
            .where(Repo.type == repo_type, Repo.full_id == full_id)
        ).first()
    if found is not None and found.upstream is None:
        return
    if actor.anonymous and cfg.require_login:  # mirrored repositories are for signed-in callers only
        if found is not None:
            raise RepoNotFound(f"Repository not found: {web_path(repo_type, full_id)}")
        return
    if found is not None:
        _keep_fresh(hub, cfg, found.id, found.upstream, found.checked_at)
        return
    source = cfg.upstream_for(repo_type, full_id)
    if source is None:
        return
    with _lock(repo_type, full_id):
        try:
            create(hub, cfg, source, repo_type, full_id)
        except upstream.UpstreamUnavailable as e:
            log.warning("mirror: %s %s not created: %s", repo_type, full_id, e.message)
            status.mark(status.STALE)


def _valid_id(full_id: str) -> bool:
    parts = full_id.split("/")
    if len(parts) != 2:
        return False
    try:
        check_namespace(parts[0])
        check_name(parts[1])
    except BadRequest:
        return False
    return True


def create(hub: Hub, cfg: MirrorConfig, source: Upstream, repo_type: str, full_id: str) -> int | None:
    """Mirror an upstream repository: fetch its history into a new bare repository, then record it. The git
    directory exists before its row commits (as for any new repository); a failure removes it."""
    with hub.db.read() as session:
        if session.scalar(select(Repo.id).where(Repo.type == repo_type, Repo.full_id == full_id)) is not None:
            return None  # created meanwhile
    info = upstream.repo_info(source, repo_type, full_id, cfg.timeout)
    if info is None or not source.admits_license(info):
        return None
    storage_key = secrets.token_hex(16)
    path = hub.repo_path(storage_key)
    GitRepo.init(path)
    try:
        upstream.git_fetch(source, repo_type, full_id, path, cfg.timeout)
        repo_id = _record(hub, source, repo_type, full_id, storage_key, info)
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    if repo_id is None:
        shutil.rmtree(path, ignore_errors=True)
    else:
        status.mark(status.FRESH)
    return repo_id


def _record(
    hub: Hub, source: Upstream, repo_type: str, full_id: str, storage_key: str, info: dict[str, Any]
) -> int | None:
    namespace, name = full_id.split("/")
    git = open_repo(hub.repo_path(storage_key))
    head = git.ref("refs/heads/main")
    try:
        with hub.db.write() as session:
            owner = _mirror_namespace(session, namespace, source)
            if owner is None:
                return None
            gated = info.get("gated")
            row = Repo(
                type=repo_type,
                owner_id=owner,
                namespace=namespace,
                name=name,
                full_id=full_id,
                storage_key=storage_key,
                private=bool(info.get("private")),
                gated=gated if gated in ("auto", "manual") else None,
                tags=[],
            )
            session.add(row)
            session.flush()
            session.add(MirrorRepo(repo_id=row.id, upstream=source.url, checked_at=utcnow()))
            search.index_card(session, row.id, full_id, "", [])
            _describe(session, git, row, head)
            return row.id
    except IntegrityError:
        return None  # another process mirrored it at the same moment


def _mirror_namespace(session: Session, namespace: str, source: Upstream) -> int | None:
    """The account holding mirrors of `namespace`: created (an organisation without members) the first time;
    None when the name belongs to a local user or organisation."""
    account = session.scalar(select(Account).where(Account.name == namespace))
    if account is None:
        account = Account(name=namespace, kind=ORG)
        session.add(account)
        session.flush()
        session.add(MirrorNamespace(account_id=account.id, upstream=source.url))
        return account.id
    return account.id if session.get(MirrorNamespace, account.id) is not None else None


def _describe(session: Session, git: GitRepo, row: Repo, head: str | None) -> None:
    """Head, card, tags and search text of main, as after a commit (no background jobs: they would read
    file bytes the mirror has not fetched)."""
    row.used_storage = git.disk_usage()
    if head is not None:
        session.flush()
        touch(session, row.id, head)
        refresh_card(session, git, row.id, head)


def _keep_fresh(hub: Hub, cfg: MirrorConfig, repo_id: int, url: str, checked_at: Any) -> None:
    if utcnow() - checked_at < timedelta(seconds=cfg.ttl):
        status.mark(status.FRESH)
        return
    source = cfg.by_url(url)
    if source is None:  # the upstream was removed from the configuration: serve what is held
        status.mark(status.STALE)
        return
    if _DOWN_UNTIL.get(repo_id, 0.0) > time.monotonic():  # failed lately: do not make every request wait for it
        status.mark(status.STALE)
        return
    lock = _lock("refresh", str(repo_id))
    if not lock.acquire(blocking=False):  # another request is refreshing: answer from what is held
        status.mark(status.FRESH)
        return
    try:
        refresh(hub, cfg, source, repo_id)
        status.mark(status.FRESH)
    except upstream.UpstreamUnavailable as e:
        log.info("mirror: answering repo %s from cache: %s", repo_id, e.message)
        _DOWN_UNTIL[repo_id] = time.monotonic() + min(cfg.ttl, RETRY_DOWN)
        status.mark(status.STALE)
    finally:
        lock.release()


def refresh(hub: Hub, cfg: MirrorConfig, source: Upstream, repo_id: int) -> None:
    """Ask the upstream where the repository's refs are; fetch when main moved (or always, with `force`)."""
    with hub.db.read() as session:
        row = session.get(Repo, repo_id)
        if row is None:
            return
        repo_type, full_id, storage_key = row.type, row.full_id, row.storage_key
    info = upstream.repo_info(source, repo_type, full_id, cfg.timeout)
    if info is None:
        raise upstream.UpstreamUnavailable(f"{full_id} is no longer available upstream")
    path = hub.repo_path(storage_key)
    git = open_repo(path)
    if info.get("sha") != git.ref("refs/heads/main"):
        fetch(hub, source, repo_id, timeout=cfg.timeout)
    with hub.db.write() as session:
        mirror = session.get(MirrorRepo, repo_id)
        if mirror is not None:
            mirror.checked_at = utcnow()


def fetch(hub: Hub, source: Upstream, repo_id: int, timeout: float) -> None:
    """Fetch every ref from the upstream and describe the new head of main."""
    with hub.db.read() as session:
        row = session.get(Repo, repo_id)
        assert row is not None
        repo_type, full_id, path = row.type, row.full_id, hub.repo_path(row.storage_key)
    with repo_lock(hub.db, RepoAt(repo_id, path)):
        upstream.git_fetch(source, repo_type, full_id, path, timeout)
        git = open_repo(path)
        with hub.db.write() as session:
            current = session.get(Repo, repo_id)
            if current is not None:
                _describe(session, git, current, git.ref("refs/heads/main"))


def upstream_of(hub: Hub, repo_id: int) -> str | None:
    with hub.db.read() as session:
        return session.scalar(select(MirrorRepo.upstream).where(MirrorRepo.repo_id == repo_id))


def upstream_for_ref(hub: Hub, ref: RepoRef) -> Upstream | None:
    """The configured upstream a mirrored repository's files come from (None: not mirrored)."""
    url = upstream_of(hub, ref.row.id)
    return None if url is None else config(hub.settings).by_url(url)
