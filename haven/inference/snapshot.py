"""A model repository at one commit as a local directory the workers load from, built from Haven's own
storage (git blobs, LFS blobs, Xet chunks) without any HTTP.

Snapshots are content-addressed by the commit's root tree, so every commit with the same files shares
one directory, and LFS files are hard links to the blob store's objects (no copy). A snapshot is built
in a temporary directory and renamed into place, so a directory that exists is complete.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from haven.cas import service as cas
from haven.hub import Hub
from haven.inference.tasks import InferenceError
from haven.repos.service import RepoRef
from haven.scanning import service as scanning
from haven.storage import cache as blob_cache

# Files no PyTorch loader reads: other frameworks' weights and exports.
SKIP_DIRS = ("onnx/", "openvino/", "coreml/", "tflite/")
SKIP_SUFFIXES = (".h5", ".msgpack", ".ot", ".onnx", ".onnx_data", ".tflite", ".mlmodel", ".gguf", ".ggml")
PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".pickle")
# Entries in config files that make transformers or sentence-transformers import code from the repository.
REMOTE_CODE_KEYS = ("auto_map",)

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()
_known: dict[tuple[str, str, bool], Snapshot] = {}


@dataclass(frozen=True)
class Snapshot:
    key: str  # the root tree's id (plus a mark when pickles are included)
    path: Path
    weight_bytes: int
    config: dict[str, Any] | None
    sentence_transformers: bool


def _is_weight(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return name.endswith(".safetensors") or (name.endswith(PICKLE_SUFFIXES) and name != "training_args.bin")


def _json(ref: RepoRef, commit: str, path: str) -> dict[str, Any] | None:
    entry = ref.git.entry(commit, path)
    if entry is None or entry.type != "file" or entry.pointer is not None or entry.size > 1_000_000:
        return None
    try:
        data = json.loads(ref.git.read_blob(entry.oid))
    except (ValueError, UnicodeDecodeError):
        raise InferenceError(422, f"{path} is not valid JSON") from None
    return data if isinstance(data, dict) else None


def check_model(ref: RepoRef, commit: str, allow_pickle: bool) -> tuple[list[Any], bool]:
    """The files to materialise, and whether pickled weights are among them. Refuses (422) models that need
    code from the repository (never run) and models whose weights are only pickles (unless allowed)."""
    files = [e for e in ref.git.list_tree(commit, "", recursive=True) if e.type == "file"]
    for name in ("config.json", "tokenizer_config.json", "processor_config.json", "preprocessor_config.json"):
        data = _json(ref, commit, name)
        if data and any(k in data for k in REMOTE_CODE_KEYS):
            raise InferenceError(
                422, f"{ref.full_id} needs code from its repository ({name} has auto_map); Haven never runs remote code"
            )
    raw = ref.git.entry(commit, "modules.json")
    listed: Any = []
    if raw is not None and raw.type == "file" and raw.pointer is None:
        try:
            listed = json.loads(ref.git.read_blob(raw.oid))
        except (ValueError, UnicodeDecodeError):
            raise InferenceError(422, "modules.json is not valid JSON") from None
    for module in listed if isinstance(listed, list) else []:
        kind = module.get("type", "") if isinstance(module, dict) else ""
        if not str(kind).startswith("sentence_transformers."):
            raise InferenceError(
                422, f"{ref.full_id} uses a custom sentence-transformers module ({kind}); Haven never runs remote code"
            )
    weights = [e for e in files if _is_weight(e.path) and not e.path.startswith(SKIP_DIRS)]
    safe = any(e.path.endswith(".safetensors") for e in weights)
    pickled = [e for e in weights if not e.path.endswith(".safetensors")]
    if not safe and pickled and not allow_pickle:
        raise InferenceError(
            422,
            f"{ref.full_id} has only pickled weights ({pickled[0].path}); loading them can run arbitrary code. "
            "Convert them to safetensors, or ask an admin to set HAVEN_INFERENCE_ALLOW_PICKLE=true",
        )
    keep = []
    for e in files:
        if e.path.startswith(SKIP_DIRS) or e.path.endswith(SKIP_SUFFIXES):
            continue
        if _is_weight(e.path) and not e.path.endswith(".safetensors") and safe:
            continue  # safetensors are there: never read the pickles
        keep.append(e)
    return keep, bool(pickled) and not safe


def materialise(hub: Hub, ref: RepoRef, commit: str) -> Snapshot:
    """The repository at `commit` as a directory under <data_dir>/inference/snapshots (built once; a
    commit never changes, so the answer is remembered per repository and commit). Refuses (422) a commit
    with a file the security scan found unsafe, however the snapshot was built before the verdict."""
    refuse_unsafe(hub, ref, commit)
    known = remembered(hub, ref, commit)
    if known is not None:
        return known
    key = (str(ref.path), commit, hub.settings.inference_allow_pickle)
    snap = _materialise(hub, ref, commit)
    with _locks_guard:
        if len(_known) >= 4096:
            _known.clear()
        _known[key] = snap
    return snap


def refuse_unsafe(hub: Hub, ref: RepoRef, commit: str) -> None:
    """Never load a model whose files the security scan flagged (dangerous pickle imports, a virus)."""
    files = [e for e in ref.git.list_tree(commit, "", recursive=True) if e.type == "file"]
    scanning.scan_missing(hub, ref.row.id, ref.git, [e for e in files if e.path.lower().endswith(PICKLE_SUFFIXES)])
    flagged = scanning.unsafe_files(hub, ref.row.id, files)
    if flagged:
        path, why = flagged[0]
        more = f" (and {len(flagged) - 1} more files)" if len(flagged) > 1 else ""
        raise InferenceError(
            422, f"{ref.full_id} was flagged unsafe by the security scan: {path}: {why}{more}; Haven will not load it"
        )


def remembered(hub: Hub, ref: RepoRef, commit: str) -> Snapshot | None:
    """The snapshot if this process already built or found it (a dictionary lookup and a stat)."""
    with _locks_guard:
        known = _known.get((str(ref.path), commit, hub.settings.inference_allow_pickle))
    return known if known is not None and known.path.is_dir() else None


def _materialise(hub: Hub, ref: RepoRef, commit: str) -> Snapshot:
    files, pickled = check_model(ref, commit, hub.settings.inference_allow_pickle)
    key = ref.git.tree_of(commit) + ("-pickle" if pickled else "")
    root = hub.settings.data_dir / "inference" / "snapshots"
    path = root / key
    config = _json(ref, commit, "config.json")
    st = ref.git.entry(commit, "modules.json") is not None
    weight_bytes = sum(e.size for e in files if _is_weight(e.path))
    snap = Snapshot(key, path, weight_bytes, config, st)
    if path.is_dir():
        return snap
    with _locks_guard:
        lock = _locks.setdefault(key, threading.Lock())
    with lock:
        if path.is_dir():
            return snap
        tmp = root / f".tmp-{key}-{secrets.token_hex(4)}"
        tmp.mkdir(parents=True)
        try:
            for e in files:
                _write(hub, ref, e, tmp / e.path)
            os.replace(tmp, path)
        except FileExistsError:  # another process finished first: its copy is as good
            pass
        except OSError as exc:
            if not path.is_dir():
                raise InferenceError(500, f"Could not prepare {ref.full_id} for inference: {exc}") from None
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return snap


def _write(hub: Hub, ref: RepoRef, entry: Any, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if entry.pointer is None:
        dest.write_bytes(ref.git.read_blob(entry.oid))
        return
    oid = entry.pointer.oid
    src = blob_cache.local_file(hub.blobs, oid, hub.settings.data_dir)  # object storage: a cached copy
    if src is not None:
        try:
            os.link(src, dest)
        except OSError:
            shutil.copyfile(src, dest)
        return
    info = cas.file_by_sha256(hub, oid)
    if info is None:
        raise InferenceError(500, f"The bytes of {entry.path} are missing from storage")
    # Xet files are rebuilt once into a content-addressed store beside the snapshots, then linked.
    store = hub.settings.data_dir / "inference" / "objects" / oid
    if not store.exists():
        store.parent.mkdir(parents=True, exist_ok=True)
        part = store.with_name(f".{oid}.{secrets.token_hex(4)}")
        with open(part, "wb") as out:
            for piece in cas.iter_file(hub, info):
                out.write(piece)
        os.replace(part, store)
    with contextlib.suppress(FileExistsError):
        os.link(store, dest)
