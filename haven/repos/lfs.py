"""Which LFS objects a repository may reference, and attaching newly received ones to it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from haven.cas.models import XetFile
from haven.hub import Hub
from haven.repos.models import LfsObject


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
    try:
        with hub.db.write() as session:
            if session.get(LfsObject, (repo_id, oid)) is None:
                session.add(LfsObject(repo_id=repo_id, oid=oid, size=size))
    except IntegrityError:
        pass  # a concurrent upload of the same object linked it first
