"""Whether the bytes an LFS pointer names are stored: as a whole blob, or as a Xet file whose xorbs exist."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlalchemy import select

from haven.cas.layout import unpack_terms
from haven.cas.models import XetFile, XetXorb
from haven.hub import Hub
from haven.xet.errors import XetFormatError
from haven.xet.xorb import validate_xorb

HASH_CHUNK = 1 << 20


@dataclass(frozen=True)
class ObjectProblem:
    oid: str
    kind: str  # missing | wrong_size | wrong_hash | missing_xorb | corrupt_xorb
    detail: str


def check_pointers(hub: Hub, pointers: dict[str, int], verify_hashes: bool = False) -> list[ObjectProblem]:
    """Problems of the objects behind these pointers (oid -> size); an empty list when all are whole."""
    problems: list[ObjectProblem] = []
    unresolved: dict[str, int] = {}
    for oid, size in sorted(pointers.items()):
        stored = hub.blobs.stat(oid)
        if stored is None:
            unresolved[oid] = size
        elif stored.size != size:
            problems.append(ObjectProblem(oid, "wrong_size", f"blob has {stored.size} bytes, pointer says {size}"))
        elif verify_hashes and (actual := blob_sha256(hub, oid)) != oid:
            problems.append(ObjectProblem(oid, "wrong_hash", f"blob bytes hash to {actual}"))
    files = xet_files(hub, list(unresolved))
    for oid, size in unresolved.items():
        row = files.get(oid)
        if row is None:
            problems.append(ObjectProblem(oid, "missing", f"no blob and no Xet file for {size} bytes"))
        elif row.size != size:
            problems.append(ObjectProblem(oid, "wrong_size", f"Xet file has {row.size} bytes, pointer says {size}"))
        else:
            problems += [ObjectProblem(oid, p.kind, p.detail) for p in check_xorbs(hub, _xorbs_of(row), verify_hashes)]
    return problems


def xet_files(hub: Hub, sha256s: list[str]) -> dict[str, XetFile]:
    out: dict[str, XetFile] = {}
    with hub.db.read() as session:
        for start in range(0, len(sha256s), 500):
            chunk = sha256s[start : start + 500]
            out.update({r.sha256: r for r in session.scalars(select(XetFile).where(XetFile.sha256.in_(chunk)))})
    return out


def _xorbs_of(row: XetFile) -> set[str]:
    return {t.xorb for t in unpack_terms(row.terms)}


def check_xorbs(hub: Hub, xorbs: set[str], verify_hashes: bool = False) -> list[ObjectProblem]:
    """Each xorb needs its row (its chunk layout) and its bytes, of the recorded size."""
    if not xorbs:
        return []
    with hub.db.read() as session:
        sizes = dict(session.execute(select(XetXorb.hash, XetXorb.size).where(XetXorb.hash.in_(sorted(xorbs)))).all())
    problems = []
    for xorb in sorted(xorbs):
        stored = hub.xorbs.stat(xorb)
        if xorb not in sizes or stored is None:
            problems.append(ObjectProblem(xorb, "missing_xorb", "no row" if xorb not in sizes else "no bytes"))
        elif stored.size != sizes[xorb]:
            problems.append(ObjectProblem(xorb, "corrupt_xorb", f"{stored.size} bytes, recorded {sizes[xorb]}"))
        elif verify_hashes:
            try:
                with hub.xorbs.open(xorb) as f:
                    validate_xorb(f.read(), xorb)
            except XetFormatError as e:
                problems.append(ObjectProblem(xorb, "corrupt_xorb", str(e)))
    return problems


def blob_sha256(hub: Hub, oid: str) -> str:
    digest = hashlib.sha256()
    with hub.blobs.open(oid) as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
