"""Which LFS objects a repository may reference, and attaching newly received ones to it."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from haven.cas.models import XetFile
from haven.hub import Hub
from haven.repos.models import LfsObject, Repo


def linked(hub: Hub, repo_id: int, oids: list[str]) -> dict[str, int]:
    """oid -> size for the given objects this repository holds and whose bytes are stored."""
    if not oids:
        return {}
    with hub.db.read() as session:
        rows = session.execute(
            select(LfsObject.oid, LfsObject.size).where(LfsObject.repo_id == repo_id, LfsObject.oid.in_(oids))
        ).all()
        stored = stored_sizes(hub, session, [r.oid for r in rows])
    return {r.oid: r.size for r in rows if stored.get(r.oid) == r.size}


def stored_sizes(hub: Hub, session: Session, oids: list[str]) -> dict[str, int]:
    """Size of each object whose bytes Haven holds: as a blob, or as a Xet file (chunks in xorbs)."""
    out = hub.blobs.sizes(oids)
    missing = [oid for oid in oids if oid not in out]
    if missing:
        rows = session.execute(select(XetFile.sha256, XetFile.size).where(XetFile.sha256.in_(missing))).all()
        out.update({r.sha256: r.size for r in rows})
    return out


def link(hub: Hub, repo_id: int, oid: str, size: int) -> None:
    with hub.db.write() as session:
        record(session, repo_id, {oid: size})


def record(session: Session, repo_id: int, objects: dict[str, int]) -> None:
    """Attach LFS objects (oid -> size) to a repository and count the new ones in its used storage at once
    (which must never be less than its LFS objects' bytes; a commit then recounts it whole). Idempotent,
    since an upload, a commit or a repair in another process may record the same object at the same moment.

    Commits call this before their ref moves (haven.repos.commits.build_commit): a process killed right
    after the move then leaves nothing for the database to lack. A link whose commit never landed is an
    uploaded, uncommitted object like any other: gc collects it once it is unreferenced past the grace
    period, and fsck only checks that referenced objects are linked, not the converse."""
    if not objects:
        return
    insert = pg_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    rows = [{"repo_id": repo_id, "oid": oid, "size": size} for oid, size in objects.items()]
    added = session.scalars(insert(LfsObject).values(rows).on_conflict_do_nothing().returning(LfsObject.size)).all()
    if added:
        session.execute(update(Repo).where(Repo.id == repo_id).values(used_storage=Repo.used_storage + sum(added)))
