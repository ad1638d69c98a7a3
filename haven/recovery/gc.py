"""`haven gc`: delete blobs and xorbs no commit on any ref references, once they are older than a grace period.

Mark: walk every ref of every repository (haven.recovery.reachability) and collect the LFS oids their
commits hold; a Xet file is live if its sha256 is one of them, a xorb if a live file reads it. Uploads
precede the commits that reference them (an LFS object, or a Xet file's xorbs and shard, exist before the
commit), so anything younger than the grace period is kept whatever the walk says: the bytes of an upload
in progress live in the stores' temp directories, which gc never touches, and an object uploaded but not
yet committed is young. Age is the newest of the bytes' mtime (renewed when an upload re-sends existing
bytes) and the database rows that record the object.

Sweep, in the order that keeps every state safe: refs are read again and repositories whose refs moved
during the mark are walked again; then database rows go first (so no new commit or shard can be accepted
against an object about to vanish: its upload is asked for again), then the bytes, each re-checked for
freshness just before it is unlinked. gc refuses to run when a repository cannot be walked completely
(a missing git directory, a broken ref or object): it could not know what the lost part referenced.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from haven.cas.layout import unpack_terms
from haven.cas.models import XetDedupChunk, XetFile, XetFileXorb, XetXorb
from haven.hub import Hub
from haven.recovery.progress import Progress, Silent
from haven.recovery.reachability import ref_targets, walk
from haven.repos.models import LfsObject, Repo

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}
BATCH = 500


class GcRefused(Exception):
    """The reachable set could not be determined completely; nothing was deleted."""


def parse_duration(text: str) -> float:
    """'24h', '30m', '90s', '2d' or plain seconds."""
    m = _DURATION.match(text)
    if not m:
        raise ValueError(f"not a duration: {text!r} (examples: 24h, 30m, 3600)")
    return float(m.group(1)) * _UNIT[m.group(2)]


@dataclass
class GcReport:
    dry_run: bool
    grace_seconds: float
    referenced: int = 0
    blobs: list[str] = field(default_factory=list)  # deleted (or, dry run, to delete)
    blob_bytes: int = 0
    xorbs: list[str] = field(default_factory=list)
    xorb_bytes: int = 0
    xet_files: int = 0
    kept_young: int = 0  # unreferenced, but inside the grace period

    def as_dict(self) -> dict:
        return {
            "dry_run": self.dry_run,
            "grace_seconds": self.grace_seconds,
            "referenced_objects": self.referenced,
            "blobs": len(self.blobs),
            "blob_bytes": self.blob_bytes,
            "xorbs": len(self.xorbs),
            "xorb_bytes": self.xorb_bytes,
            "xet_files": self.xet_files,
            "kept_young": self.kept_young,
        }


@dataclass
class _Mark:
    referenced: dict[str, int]  # LFS oid -> size
    refs: dict[str, dict[str, str]]  # storage key -> ref -> target, as walked


def collect(hub: Hub, *, grace: float, dry_run: bool = False, progress: Progress | None = None) -> GcReport:
    progress = progress or Silent()
    cutoff = time.time() - grace
    report = GcReport(dry_run, grace)
    mark = _mark(hub, progress)
    doomed_files, live_xorbs = _xet_files(hub, mark.referenced, cutoff)
    blob_candidates = _blob_candidates(hub, mark.referenced, cutoff, report)
    xorb_candidates = _xorb_candidates(hub, live_xorbs, cutoff, report)
    _remark(hub, mark, progress)  # commits that landed during the mark
    blob_candidates = {o: s for o, s in blob_candidates.items() if o not in mark.referenced}
    doomed_files = {h: sha for h, sha in doomed_files.items() if sha not in mark.referenced}
    _, live_xorbs = _xet_files(hub, mark.referenced, cutoff)
    xorb_candidates = {x: s for x, s in xorb_candidates.items() if x not in live_xorbs}
    report.referenced = len(mark.referenced)
    if dry_run:
        report.blobs, report.blob_bytes = sorted(blob_candidates), sum(blob_candidates.values())
        report.xorbs, report.xorb_bytes = sorted(xorb_candidates), sum(xorb_candidates.values())
        report.xet_files = len(doomed_files)
        return report
    _forget_rows(hub, doomed_files, set(xorb_candidates), set(blob_candidates))
    advance = progress.task("deleting", len(blob_candidates) + len(xorb_candidates))
    for store, candidates, names in (
        (hub.blobs, blob_candidates, report.blobs),
        (hub.xorbs, xorb_candidates, report.xorbs),
    ):
        for oid, size in sorted(candidates.items()):
            stored = store.stat(oid)
            if stored is not None and stored.mtime < cutoff:  # not re-sent meanwhile
                store.delete(oid)
                names.append(oid)
                if store is hub.blobs:
                    report.blob_bytes += size
                else:
                    report.xorb_bytes += size
            advance(1)
    report.xet_files = len(doomed_files)
    return report


def _mark(hub: Hub, progress: Progress) -> _Mark:
    with hub.db.read() as session:
        repos = list(session.execute(select(Repo.id, Repo.full_id, Repo.storage_key)).all())
    mark = _Mark({}, {})
    advance = progress.task("marking referenced objects", len(repos))
    for repo in repos:
        _walk_into(hub, repo.id, repo.full_id, repo.storage_key, mark)
        advance(1)
    return mark


def _walk_into(hub: Hub, repo_id: int, full_id: str, key: str, mark: _Mark) -> None:
    path = hub.repo_path(key)
    if not path.is_dir():
        with hub.db.read() as session:
            if session.get(Repo, repo_id) is None:
                return  # deleted while gc ran
        raise GcRefused(f"{full_id}: its git directory {path} is missing (run haven fsck)")
    reach = walk(path)
    if not reach.complete:
        raise GcRefused(f"{full_id}: broken refs or missing git objects (run haven fsck)")
    mark.referenced.update(reach.pointers)
    mark.refs[key] = reach.refs


def _remark(hub: Hub, mark: _Mark, progress: Progress) -> None:
    """Walk again the repositories whose refs moved (or that appeared) since the mark."""
    import pygit2

    with hub.db.read() as session:
        repos = list(session.execute(select(Repo.id, Repo.full_id, Repo.storage_key)).all())
    advance = progress.task("re-checking moved refs", len(repos))
    for repo in repos:
        path = hub.repo_path(repo.storage_key)
        moved = True
        if repo.storage_key in mark.refs and path.is_dir():
            moved = ref_targets(pygit2.Repository(str(path))) != mark.refs[repo.storage_key]
        if moved:
            _walk_into(hub, repo.id, repo.full_id, repo.storage_key, mark)
        advance(1)


def _xet_files(hub: Hub, referenced: dict[str, int], cutoff: float) -> tuple[dict[str, str], set[str]]:
    """(Xet files to forget: file hash -> sha256, xorbs that live files read)."""
    doomed: dict[str, str] = {}
    live: set[str] = set()
    with hub.db.read() as session:
        for row in session.execute(select(XetFile.hash, XetFile.sha256, XetFile.created_at, XetFile.terms)):
            if row.sha256 in referenced or _epoch(row.created_at) >= cutoff:
                live.update(t.xorb for t in unpack_terms(row.terms))
            else:
                doomed[row.hash] = row.sha256
    return doomed, live


def _blob_candidates(hub: Hub, referenced: dict[str, int], cutoff: float, report: GcReport) -> dict[str, int]:
    unreferenced = [o for o in hub.blobs.list_objects() if o.oid not in referenced]
    old = {o.oid: o.size for o in unreferenced if o.mtime < cutoff}
    report.kept_young += len(unreferenced) - len(old)
    recent = _recent(hub, LfsObject.oid, LfsObject.created_at, list(old), cutoff)
    report.kept_young += len(recent)
    return {oid: size for oid, size in old.items() if oid not in recent}


def _xorb_candidates(hub: Hub, live: set[str], cutoff: float, report: GcReport) -> dict[str, int]:
    old = {o.oid: o.size for o in hub.xorbs.list_objects() if o.oid not in live and o.mtime < cutoff}
    with hub.db.read() as session:  # rows whose bytes are already gone are forgotten too
        for xorb, size in session.execute(select(XetXorb.hash, XetXorb.size)):
            if xorb not in live and hub.xorbs.stat(xorb) is None:
                old.setdefault(xorb, size)
    recent = _recent(hub, XetXorb.hash, XetXorb.created_at, list(old), cutoff)
    report.kept_young += len(recent)
    return {x: size for x, size in old.items() if x not in recent}


def _recent(hub: Hub, key, created, ids: list[str], cutoff: float) -> set[str]:  # type: ignore[no-untyped-def]
    """Which of `ids` a database row recorded at or after `cutoff`."""
    out: set[str] = set()
    with hub.db.read() as session:
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            rows = session.execute(select(key, func.max(created)).where(key.in_(chunk)).group_by(key)).all()
            out.update(k for k, when in rows if _epoch(when) >= cutoff)
    return out


def _forget_rows(hub: Hub, files: dict[str, str], xorbs: set[str], blobs: set[str]) -> None:
    """Database rows of what is about to be deleted, before its bytes go."""
    file_ids, xorb_ids = sorted(files), sorted(xorbs)
    with hub.db.write() as session:
        for start in range(0, len(file_ids), BATCH):
            chunk = file_ids[start : start + BATCH]
            session.execute(delete(XetFileXorb).where(XetFileXorb.file_hash.in_(chunk)))
            session.execute(delete(XetFile).where(XetFile.hash.in_(chunk)))
        for start in range(0, len(xorb_ids), BATCH):
            chunk = xorb_ids[start : start + BATCH]
            session.execute(delete(XetDedupChunk).where(XetDedupChunk.xorb_hash.in_(chunk)))
            session.execute(delete(XetFileXorb).where(XetFileXorb.xorb_hash.in_(chunk)))
            session.execute(delete(XetXorb).where(XetXorb.hash.in_(chunk)))
        # LFS objects whose bytes are gone in every form: repositories no longer hold them.
        blob_ids, still_xet = sorted(blobs), set()
        for start in range(0, len(blob_ids), BATCH):
            chunk = blob_ids[start : start + BATCH]
            still_xet.update(session.scalars(select(XetFile.sha256).where(XetFile.sha256.in_(chunk))))
        gone = (blobs - still_xet) | {sha for sha in files.values() if sha not in blobs and not hub.blobs.exists(sha)}
        gone_ids = sorted(gone)
        for start in range(0, len(gone_ids), BATCH):
            session.execute(delete(LfsObject).where(LfsObject.oid.in_(gone_ids[start : start + BATCH])))


def _epoch(when: datetime | None) -> float:
    """Seconds since the epoch of a naive UTC timestamp (as the models store them)."""
    return when.replace(tzinfo=UTC).timestamp() if when is not None else 0.0
