"""Local copies of remote blobs, for the few readers that truly need a file path (DuckDB reading Parquet,
ClamAV, inference snapshots handed to transformers). Local-disk blobs are used in place."""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

from haven.storage.base import BlobStore

COPY_CHUNK = 1 << 20


def local_file(store: BlobStore, oid: str, data_dir: Path) -> Path | None:
    """A file holding object `oid` (None if the store lacks it): the store's own file, else a copy under
    <data_dir>/cache/blobs fetched once (whole, then renamed into place: readers never see a partial copy).
    The cache is not trimmed; deleting it at any time is safe."""
    own = store.local_path(oid)
    if own is not None:
        return own if own.exists() else None
    path = data_dir / "cache" / "blobs" / oid[:2] / oid
    if path.exists():
        return path
    try:
        src = store.open(oid)
    except FileNotFoundError:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(f".{oid}.{secrets.token_hex(4)}")
    try:
        with src, open(part, "wb") as out:
            shutil.copyfileobj(src, out, COPY_CHUNK)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return path


def read_range(store: BlobStore, oid: str, start: int, length: int) -> bytes | None:
    """`length` bytes of the object from `start`; None if the store lacks it (its bytes may be Xet chunks)."""
    try:
        return store.read_range(oid, start, length)
    except FileNotFoundError:
        return None
