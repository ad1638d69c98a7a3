"""`haven fsck`: does every ref lead to whole commits whose large files are stored, and does the database agree?

Each problem is a Finding. With repair, the safe ones (haven.recovery.reconcile, plus moving orphan git
directories to lost+found and dropping stale upload temp files) are fixed and marked so; the others
(missing or corrupt bytes, broken refs, a repository row without its git directory) are only reported,
because fixing them needs a backup or a person.
"""

from __future__ import annotations

import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import select

from haven.cas.layout import unpack_terms
from haven.cas.models import XetFile, XetXorb
from haven.git.store import GitRepo
from haven.hub import Hub
from haven.recovery import reconcile
from haven.recovery.objects import check_pointers, check_xorbs
from haven.recovery.progress import Progress, Silent
from haven.recovery.reachability import Reach, walk
from haven.repos.locks import RepoAt, repo_lock
from haven.repos.models import LfsObject, Repo

STALE_TEMP = 3600.0  # seconds; live uploads keep their temp files fresher than this (LocalBlobStore.clean_tmp)


@dataclass
class Finding:
    kind: str
    subject: str  # a repository ("model:alice/x"), an object id or a path
    detail: str
    repairable: bool = False
    repaired: bool = False


@dataclass
class Report:
    findings: list[Finding] = field(default_factory=list)
    repos: int = 0
    commits: int = 0
    objects: int = 0

    @property
    def ok(self) -> bool:
        """True when nothing is left to fix (repaired findings do not count)."""
        return all(f.repaired for f in self.findings)

    def add(self, kind: str, subject: str, detail: str, repairable: bool = False) -> Finding:
        finding = Finding(kind, subject, detail, repairable)
        self.findings.append(finding)
        return finding

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "repos": self.repos,
            "commits": self.commits,
            "objects": self.objects,
            "findings": [asdict(f) for f in self.findings],
        }


def run(hub: Hub, *, repair: bool = False, verify_hashes: bool = False, progress: Progress | None = None) -> Report:
    progress = progress or Silent()
    report = Report()
    with hub.db.read() as session:
        repos = list(session.scalars(select(Repo).order_by(Repo.id)))
    report.repos = len(repos)
    _check_git_dirs(hub, repos, report, repair)
    advance = progress.task("checking repositories", len(repos))
    for repo in repos:
        if hub.repo_path(repo.storage_key).is_dir():
            _check_repo(hub, repo, report, repair, verify_hashes)
        advance(1)
    _check_xet(hub, report, verify_hashes, progress)
    _check_counters(hub, report, repair)
    _check_temp(hub, report, repair)
    return report


def subject(repo: Repo) -> str:
    return f"{repo.type}:{repo.full_id}"


def git_dirs(hub: Hub) -> dict[str, Path]:
    """storage key -> path of every repository directory on disk."""
    root = hub.settings.repos_dir
    return {p.name.removesuffix(".git"): p for p in root.glob("*/*.git") if p.is_dir()}


def _check_git_dirs(hub: Hub, repos: list[Repo], report: Report, repair: bool) -> None:
    on_disk = git_dirs(hub)
    known = {r.storage_key for r in repos}
    for repo in repos:
        if repo.storage_key not in on_disk:
            report.add("missing_git_dir", subject(repo), f"no git directory {hub.repo_path(repo.storage_key)}")
    young = time.time() - STALE_TEMP
    for key, path in sorted(on_disk.items()):
        # create_repo writes the directory just before its row commits: a young one may be a repository
        # being created, not an orphan.
        if key in known or path.stat().st_mtime > young:
            continue
        finding = report.add("orphan_git_dir", str(path), "a git directory no repository row names", True)
        if repair:  # kept, not deleted: it may hold the only copy of something
            dest = hub.settings.data_dir / "lost+found" / path.name
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.rename(path, dest)
            finding.repaired = True
            finding.detail += f"; moved to {dest}"


def _check_repo(hub: Hub, repo: Repo, report: Report, repair: bool, verify_hashes: bool) -> None:
    reach = walk(hub.repo_path(repo.storage_key))
    report.commits += reach.commits
    report.objects += len(reach.pointers)
    name = subject(repo)
    for ref, target in sorted(reach.broken_refs.items()):
        report.add("broken_ref", name, f"{ref} points at {target}, which is not a stored commit")
    for oid, needed_by in sorted(reach.missing.items()):
        report.add("missing_git_object", name, f"{oid} ({needed_by}) is missing")
    broken: set[str] = set()
    for problem in check_pointers(hub, reach.pointers, verify_hashes):
        broken.add(problem.oid)
        commit = reach.where.get(problem.oid, "")
        report.add(f"lfs_{problem.kind}", name, f"{problem.oid} (in commit {commit}): {problem.detail}")
    _check_head(hub, repo, reach, report, repair)
    whole = {oid: size for oid, size in reach.pointers.items() if oid not in broken}
    _check_links(hub, repo, whole, report, repair)


def _check_head(hub: Hub, repo: Repo, reach: Reach, report: Report, repair: bool) -> None:
    main = reach.refs.get("refs/heads/main")
    if main is None or "refs/heads/main" in reach.broken_refs or main == repo.head_sha:
        return
    finding = report.add("stale_head", subject(repo), f"database says main is {repo.head_sha}, git says {main}", True)
    if repair:
        path = hub.repo_path(repo.storage_key)
        # Under the lock API commits hold until they have recorded their head, and with main read again:
        # a commit landing meanwhile must not see its newer head overwritten with the one walked above.
        with repo_lock(hub.db, RepoAt(repo.id, path)), hub.db.write() as session:
            row = session.get(Repo, repo.id)
            current = GitRepo(path).ref("refs/heads/main")
            if row is not None and current is not None and row.head_sha != current:
                reconcile.record_head(hub, session, row, current)
        finding.repaired = True


def _check_links(hub: Hub, repo: Repo, objects: dict[str, int], report: Report, repair: bool) -> None:
    """The database must know every LFS object the commits reference (Xet downloads are allowed by it)."""
    with hub.db.read() as session:
        linked = set(session.scalars(select(LfsObject.oid).where(LfsObject.repo_id == repo.id)))
    lost = {oid: size for oid, size in objects.items() if oid not in linked}
    if not lost:
        return
    finding = report.add(
        "unrecorded_lfs_objects", subject(repo), f"{len(lost)} referenced LFS objects are not recorded", True
    )
    if repair:
        with hub.db.write() as session:
            reconcile.link_objects(session, repo.id, lost)
        finding.repaired = True


def _check_xet(hub: Hub, report: Report, verify_hashes: bool, progress: Progress) -> None:
    """Every Xet file's terms must name stored xorbs, and every xorb row must have its bytes."""
    with hub.db.read() as session:
        xorbs = set(session.scalars(select(XetXorb.hash)))
        for row in session.scalars(select(XetFile)):
            lost = {t.xorb for t in unpack_terms(row.terms)} - xorbs
            if lost:
                report.add("xet_file_missing_xorbs", row.sha256, f"terms name unknown xorbs {sorted(lost)}")
    advance = progress.task("checking xorbs", len(xorbs))
    batch = sorted(xorbs)
    for start in range(0, len(batch), 500):
        for problem in check_xorbs(hub, set(batch[start : start + 500]), verify_hashes):
            report.add(problem.kind, problem.oid, problem.detail)
        advance(len(batch[start : start + 500]))


def _check_counters(hub: Hub, report: Report, repair: bool) -> None:
    with hub.db.read() as session:
        likes = reconcile.expected_likes(session)
        downloads = reconcile.expected_downloads(session)
        lfs = reconcile.lfs_bytes(session)
        repos = list(session.scalars(select(Repo).order_by(Repo.id)))
    for repo in repos:
        wrong = []
        if repo.likes != likes.get(repo.id, 0):
            wrong.append(f"likes {repo.likes}, counted {likes.get(repo.id, 0)}")
        if repo.downloads != downloads.get(repo.id, 0):
            wrong.append(f"30-day downloads {repo.downloads}, activity sums to {downloads.get(repo.id, 0)}")
        if repo.used_storage < lfs.get(repo.id, 0):
            wrong.append(f"used storage {repo.used_storage} is less than its LFS objects' {lfs.get(repo.id, 0)}")
        if not wrong:
            continue
        finding = report.add("wrong_counters", subject(repo), "; ".join(wrong), True)
        if repair:
            with hub.db.write() as session:
                reconcile.set_likes(session, repo.id, likes.get(repo.id, 0))
                reconcile.recompute_downloads(session, [repo.id])
                if hub.repo_path(repo.storage_key).is_dir():
                    reconcile.set_storage(session, repo.id, reconcile.expected_storage(hub, session, repo))
            finding.repaired = True


def _check_temp(hub: Hub, report: Report, repair: bool) -> None:
    cutoff = time.time() - STALE_TEMP
    for store in (hub.blobs, hub.xorbs):
        tmp_dir = getattr(store, "tmp_dir", None)  # stores on local disk; object storage keeps no temp files here
        if tmp_dir is None:
            continue
        stale = [p for p in tmp_dir.iterdir() if _newest_mtime(p) < cutoff]
        if not stale:
            continue
        finding = report.add("stale_temp_files", str(tmp_dir), f"{len(stale)} abandoned upload files", True)
        if repair:
            store.clean_tmp(STALE_TEMP)
            finding.repaired = True


def _newest_mtime(path: Path) -> float:
    try:
        if path.is_dir():
            return max([path.stat().st_mtime, *(c.stat().st_mtime for c in path.iterdir())])
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()
