"""Scanning one file: choose the scanners its name and first bytes call for, run them within bounds, and
sum their findings up as a status (unsafe: dangerous imports or a virus; caution: suspicious imports,
an unreadable pickle or leaked secrets; safe otherwise)."""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haven.formats import FormatError
from haven.git.store import Entry, GitRepo
from haven.hub import Hub
from haven.metadata.source import Budget, EntrySource
from haven.scanning import clamav, pickles
from haven.scanning.models import CAUTION, SAFE, UNSAFE
from haven.scanning.reader import Capped, SourceFile, TooLarge
from haven.scanning.secrets import MAX_TEXT, find_secrets, is_text
from haven.storage import cache as blob_cache

PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")
MAX_PICKLE = 256 * 1024 * 1024  # bytes of pickle opcodes read per file (the tensors after them are not)
MAX_FILE_READ = 300 * 1024 * 1024  # everything one file's scan may read
HEAD = 8192
MAX_MEMBERS = 64  # pickles in one zip archive


@dataclass
class Result:
    status: str
    pickle_scan: dict[str, Any] | None = None
    av_scan: dict[str, Any] | None = None
    secrets: list[dict[str, Any]] | None = None


def scan_entry(hub: Hub, git: GitRepo, entry: Entry) -> Result:
    """Scan one file of a commit. Never raises: a file that breaks a scanner is judged `caution`, so a
    crafted file cannot stop the scan of the files after it."""
    try:
        return _scan(hub, git, entry)
    except Exception as e:  # untrusted bytes can upset any parser
        return _unreadable(f"not scanned: {type(e).__name__}: {e}"[:500])


def _unreadable(why: str) -> Result:
    return Result(CAUTION, pickle_scan={"highestSafetyLevel": "suspicious", "imports": [], "errors": [why]})


def _scan(hub: Hub, git: GitRepo, entry: Entry) -> Result:
    source = EntrySource(hub, git, entry, Budget(MAX_FILE_READ))
    try:
        head = source.read(0, HEAD)
    except FormatError as e:  # its bytes are missing from storage: nothing to judge, say so
        return _unreadable(str(e))
    report = _pickle_scan(source, entry.path, head)
    found = find_secrets(EntrySource(hub, git, entry, Budget(MAX_TEXT)).read(0, MAX_TEXT)) if is_text(head) else []
    av = _av_scan(hub, git, entry)
    return Result(
        status=_status(report, found, av),
        pickle_scan=report.as_json() if report is not None else None,
        av_scan=av,
        secrets=[f.as_json() for f in found] or None,
    )


def _status(report: pickles.PickleScan | None, found: list[Any], av: dict[str, Any] | None) -> str:
    level = report.highest if report is not None else pickles.INNOCUOUS
    if level == pickles.DANGEROUS or (av is not None and av.get("virusFound")):
        return UNSAFE
    if level == pickles.SUSPICIOUS or found:
        return CAUTION
    return SAFE


def _looks_pickled(path: str, head: bytes) -> bool:
    if path.lower().endswith(PICKLE_SUFFIXES):
        return True
    return len(head) > 1 and head[0] == 0x80 and 2 <= head[1] <= 5  # PROTO opcode of a binary pickle


def _pickle_scan(source: EntrySource, path: str, head: bytes) -> pickles.PickleScan | None:
    """The imports of a pickle file or of the pickles in a zip archive; None if the file holds none."""
    report = pickles.PickleScan()
    npy = pickles.npy_pickle_offset(head)
    try:
        if pickles.is_zip(head):
            if not _scan_zip(SourceFile(source), report):
                return None
        elif npy is not None:
            stream = SourceFile(source)
            stream.seek(npy)
            pickles.scan_stream(io.BufferedReader(stream, 1 << 16), report)
        elif head.startswith(pickles.NPY_MAGIC):
            return None  # an array of numbers: nothing to unpickle
        elif _looks_pickled(path, head):
            pickles.scan_stream(io.BufferedReader(SourceFile(source), 1 << 16), report)
            if report.errors and not report.imports and head[:1] != b"\x80":
                return None  # a .bin that is not a pickle at all (GGML, raw arrays...)
        else:
            return None
    except Exception as e:  # a crafted archive or pickle: what was found so far stands, plus the doubt
        report.errors.append(f"not fully scanned: {type(e).__name__}: {e}"[:500])
    return report


def _scan_zip(stream: SourceFile, report: pickles.PickleScan) -> bool:
    """Scan the pickle members (torch.save's `*/data.pkl`), inflating at most MAX_PICKLE bytes of them in
    all (a zip bomb stops there); False if the archive has none."""
    with zipfile.ZipFile(stream) as archive:
        members = pickles.pickle_members(archive)
        if len(members) > MAX_MEMBERS:
            raise TooLarge(f"{len(members)} pickles in one archive (a scan reads at most {MAX_MEMBERS})")
        left, found = MAX_PICKLE, False
        for info in members:
            with archive.open(info) as member:
                if info.filename.endswith(".npy"):
                    offset = pickles.npy_pickle_offset(member.read(HEAD))
                    if offset is None:
                        continue
                    member.seek(offset)
                capped = Capped(member, left)
                pickles.scan_stream(io.BufferedReader(capped, 1 << 16), report)
                left -= capped.pos
                found = True
    return found


def _av_scan(hub: Hub, git: GitRepo, entry: Entry) -> dict[str, Any] | None:
    """ClamAV's verdict on the file: LFS blobs in place, small git blobs through a temporary file."""
    if clamav.scanner() is None:
        return None
    if entry.pointer is not None:
        path = blob_cache.local_file(hub.blobs, entry.pointer.oid, hub.settings.data_dir)
        return clamav.scan_path(path) if path is not None else None
    with tempfile.TemporaryDirectory(prefix="haven-av-") as tmp:
        target = Path(tmp) / "file"
        target.write_bytes(git.read_blob(entry.oid))
        return clamav.scan_path(target)
