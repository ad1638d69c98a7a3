"""Scanning a repository's head of main, and reading the results back for the API, web and inference.

A scan looks only at files whose (path, blob id) it has not judged before, so a commit that changes one
file scans one file. Results outlive the commit: any revision's files find their verdicts by blob id."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Iterable
from itertools import islice
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from haven.db import utcnow
from haven.git.store import Entry, GitRepo, open_repo
from haven.hub import Hub
from haven.repos.models import Repo
from haven.scanning import tasks
from haven.scanning.models import CAUTION, SAFE, UNSAFE, UNSCANNED, FileScan, RepoScan
from haven.scanning.scan import Result, scan_entry

MAIN = "refs/heads/main"
MAX_FILES = 20_000  # files of one commit looked at
RUN_SECONDS = 120.0  # one job's share of a long scan: well inside the queue's lease
BATCH = 500
LEVELS = {UNSAFE: "danger", CAUTION: "warning"}


def key_of(path: str, oid: str) -> str:
    return hashlib.sha256(f"{path}\0{oid}".encode()).hexdigest()


def scan_repo(hub: Hub, repo_id: int) -> None:
    """Scan the files of the repository's head of main that have no verdict yet, then record the head."""
    with hub.db.read() as session:
        row = session.get(Repo, repo_id)
        done = session.get(RepoScan, repo_id)
        done_commit = done.commit if done else None
    if row is None:
        return
    git = open_repo(hub.repo_path(row.storage_key))
    head = git.ref(MAIN)
    if head is None or head == done_commit:
        return
    entries = [e for e in islice(git.list_tree(head, "", True), MAX_FILES) if e.type == "file"]
    if not scan_missing(hub, repo_id, git, entries, deadline=time.monotonic() + RUN_SECONDS):
        with hub.db.write() as session:  # out of time: a fresh job goes on where this one stopped
            tasks.enqueue_for(session, repo_id)
        return
    _finish(hub, git, repo_id, head, entries)


def scan_missing(hub: Hub, repo_id: int, git: GitRepo, entries: list[Entry], deadline: float | None = None) -> bool:
    """Scan those of `entries` that have no verdict yet (also called by the inference API, which never
    loads a pickle the background scan has not reached); False if `deadline` came first."""
    todo = [e for e in entries if key_of(e.path, e.oid) not in _rows(hub, repo_id, entries)]
    for i, entry in enumerate(todo):
        _store(hub, repo_id, entry, scan_entry(hub, git, entry))
        if deadline is not None and time.monotonic() > deadline and i + 1 < len(todo):
            return False  # at least one file per run: every job makes progress
    return True


def _store(hub: Hub, repo_id: int, entry: Entry, result: Result) -> None:
    try:
        with hub.db.write() as session:
            session.add(
                FileScan(
                    repo_id=repo_id,
                    key=key_of(entry.path, entry.oid),
                    path=entry.path,
                    oid=entry.oid,
                    status=result.status,
                    pickle_scan=result.pickle_scan,
                    av_scan=result.av_scan,
                    secrets=result.secrets,
                )
            )
    except IntegrityError:
        pass  # another worker judged the same file meanwhile; its verdict is the same


def _finish(hub: Hub, git: GitRepo, repo_id: int, head: str, entries: list[Entry]) -> None:
    """Record what the scan of `head` found, unless main moved on (that move queued the next scan)."""
    rows = _rows(hub, repo_id, entries)
    issues = [_issue(rows[k]) for k in (key_of(e.path, e.oid) for e in entries) if k in rows and rows[k].status != SAFE]
    with hub.db.write() as session:
        if git.ref(MAIN) != head or session.get(Repo, repo_id) is None:
            return
        done = session.get(RepoScan, repo_id)
        if done is None:
            session.add(RepoScan(repo_id=repo_id, commit=head, files_with_issues=issues))
        else:
            done.commit, done.files_with_issues, done.scanned_at = head, issues, utcnow()


def _issue(row: FileScan) -> dict[str, Any]:
    out = {"path": row.path, "level": LEVELS[row.status], **file_status(row)}
    out.pop("status", None)
    return out


def _rows(hub: Hub, repo_id: int, entries: Iterable[Entry]) -> dict[str, FileScan]:
    keys = sorted({key_of(e.path, e.oid) for e in entries})
    found: dict[str, FileScan] = {}
    with hub.db.read() as session:
        for i in range(0, len(keys), BATCH):
            query = select(FileScan).where(FileScan.repo_id == repo_id, FileScan.key.in_(keys[i : i + BATCH]))
            found.update((r.key, r) for r in session.scalars(query))
        session.expunge_all()
    return found


def file_status(row: FileScan | None) -> dict[str, Any]:
    """The Hub's `securityFileStatus` for one file (plus Haven's `secretsScan`)."""
    if row is None:
        return {"status": UNSCANNED, "avScan": None, "pickleImportScan": None}
    out: dict[str, Any] = {"status": row.status, "avScan": row.av_scan, "pickleImportScan": row.pickle_scan}
    if row.secrets:
        out["secretsScan"] = {"secretsFound": True, "findings": row.secrets}
    return out


def file_statuses(hub: Hub, repo_id: int, entries: list[Entry]) -> dict[str, dict[str, Any]]:
    """`securityFileStatus` of each file entry, by path."""
    rows = _rows(hub, repo_id, [e for e in entries if e.type == "file"])
    return {e.path: file_status(rows.get(key_of(e.path, e.oid))) for e in entries if e.type == "file"}


def repo_status(hub: Hub, repo_id: int, head: str | None) -> dict[str, Any]:
    """The Hub's `securityRepoStatus`: whether the head of main is scanned, and the files with issues."""
    with hub.db.read() as session:
        done = session.get(RepoScan, repo_id)
        if done is None:
            return {"scansDone": head is None, "filesWithIssues": []}
        return {"scansDone": done.commit == head, "filesWithIssues": list(done.files_with_issues or [])}


def unsafe_files(hub: Hub, repo_id: int, entries: list[Entry]) -> list[tuple[str, str]]:
    """(path, why) of each of `entries` a scan found unsafe: what the inference API refuses to load."""
    rows = _rows(hub, repo_id, [e for e in entries if e.type == "file"])
    out = []
    for entry in entries:
        row = rows.get(key_of(entry.path, entry.oid))
        if row is not None and row.status == UNSAFE:
            out.append((entry.path, reason(row)))
    return out


def reason(row: FileScan) -> str:
    """One line saying why a file is flagged."""
    parts = []
    imports = (row.pickle_scan or {}).get("imports", [])
    bad = [f"{i['module']}.{i['name']}" for i in imports if i.get("safety") == "dangerous"]
    if bad:
        parts.append("its pickle imports " + ", ".join(bad[:5]))
    if row.av_scan and row.av_scan.get("virusFound"):
        parts.append("ClamAV found " + ", ".join(row.av_scan.get("virusNames") or []))
    if row.secrets:
        parts.append("it contains " + ", ".join(sorted({s["type"] for s in row.secrets})))
    return "; ".join(parts) or "flagged by the security scan"
