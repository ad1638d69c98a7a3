"""JSON shapes the clients parse: dates ending in Z, repo info objects, tree entries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from haven.git.store import CommitInfo, Entry
from haven.repos.models import Repo


def iso(dt: datetime | None) -> str | None:
    """Milliseconds and a Z, as the Hub writes dates (the value is UTC; an offset, if any, is dropped).
    isoformat rather than strftime: a listing page formats 100 dates, and strftime is 3x slower."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.replace(tzinfo=None)
    return dt.isoformat(timespec="milliseconds") + "Z"


def repo_summary(row: Repo) -> dict[str, Any]:
    """The fields listings and repo info share."""
    out: dict[str, Any] = {
        "_id": f"{row.id:024x}",
        "id": row.full_id,
        "author": row.namespace,
        "sha": row.head_sha,
        "private": row.private,
        "gated": row.gated or False,
        "disabled": row.disabled,
        "downloads": row.downloads,
        "downloadsAllTime": row.downloads_all_time,
        "likes": row.likes,
        "tags": list(row.tags or []),
        "createdAt": iso(row.created_at),
        "lastModified": iso(row.last_modified),
        "trendingScore": round(row.trending_score or 0),
    }
    if row.type == "model":
        out["modelId"] = row.full_id
        if row.library_name:
            out["library_name"] = row.library_name
        if row.pipeline_tag:
            out["pipeline_tag"] = row.pipeline_tag
    if row.type == "space":
        out["sdk"] = row.sdk
    return out


def tree_entry(entry: Entry, xet_hashes: dict[str, str] | None = None) -> dict[str, Any]:
    """A tree / paths-info entry; `xet_hashes` (sha256 -> Xet file hash) adds `xetHash` to Xet-stored files."""
    if entry.type == "directory":
        return {"type": "directory", "oid": entry.oid, "size": 0, "path": entry.path}
    out: dict[str, Any] = {"type": "file", "oid": entry.oid, "size": entry.size, "path": entry.path}
    if entry.pointer is not None:
        out["lfs"] = {"oid": entry.pointer.oid, "size": entry.pointer.size, "pointerSize": entry.pointer_size}
        xet_hash = (xet_hashes or {}).get(entry.pointer.oid)
        if xet_hash:
            out["xetHash"] = xet_hash
    return out


def commit_json(c: CommitInfo) -> dict[str, Any]:
    return {
        "id": c.id,
        "authors": [{"user": c.author_name, "avatar": None}],
        "date": iso(c.date),
        "title": c.title,
        "message": c.message,
    }


def last_commit_json(c: CommitInfo) -> dict[str, Any]:
    return {"id": c.id, "title": c.title, "date": iso(c.date)}
