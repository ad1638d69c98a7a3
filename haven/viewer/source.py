"""A dataset revision as a local directory `datasets` can read: data files only, LFS blobs linked in place.

Archives are left out on purpose: `datasets` would extract them, and a zip bomb must not fill the disk;
the viewer says which files it skipped."""

from __future__ import annotations

import os
import posixpath
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from haven.cas import service as cas
from haven.git.store import Entry, GitRepo
from haven.hub import Hub

DATA = {".csv", ".tsv", ".json", ".jsonl", ".parquet", ".arrow", ".txt"}
MEDIA = {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff", ".wav", ".mp3", ".flac", ".ogg"}
CARD = {"README.md"}
ARCHIVES = {".zip", ".gz", ".tar", ".tgz", ".bz2", ".xz", ".zst", ".7z", ".rar", ".lz4"}
MAX_FILES = 20_000


@dataclass
class Materialized:
    files: int = 0
    skipped: list[str] = field(default_factory=list)  # archives and files whose bytes are missing


def materialize(hub: Hub, git: GitRepo, commit: str, dest: Path) -> Materialized:
    """Write the revision's data files (and card) under `dest`; at most MAX_FILES of them."""
    out = Materialized()
    for entry in git.list_tree(commit, "", True):
        if entry.type != "file" or any(part.startswith(".") for part in entry.path.split("/")):
            continue
        ext = posixpath.splitext(entry.path)[1].lower()
        if ext in ARCHIVES:
            out.skipped.append(entry.path)
            continue
        if entry.path not in CARD and ext not in DATA | MEDIA:
            continue
        if out.files >= MAX_FILES:
            out.skipped.append(entry.path)
            continue
        target = dest / entry.path
        target.parent.mkdir(parents=True, exist_ok=True)
        if _place(hub, git, entry, target):
            out.files += 1
        else:
            out.skipped.append(entry.path)
    return out


def _place(hub: Hub, git: GitRepo, entry: Entry, target: Path) -> bool:
    """Link an LFS blob, or write a git blob or Xet file's bytes; False when the bytes are missing."""
    if entry.pointer is None:
        target.write_bytes(git.read_blob(entry.oid))
        return True
    local = hub.blobs.local_path(entry.pointer.oid)
    if local is not None and local.exists():
        os.symlink(local, target)
        return True
    if local is None and hub.blobs.exists(entry.pointer.oid):  # object storage: fetch a copy
        with hub.blobs.open(entry.pointer.oid) as src, open(target, "wb") as out:
            shutil.copyfileobj(src, out, 1 << 20)
        return True
    info = cas.file_by_sha256(hub, entry.pointer.oid)
    if info is None:
        return False
    with open(target, "wb") as f:
        for chunk in cas.iter_file(hub, info, 0, info.size - 1) if info.size else ():
            f.write(chunk)
    return True
