"""Computing a repository's file metadata at the head of main, storing it, and the repo-info fields it gives.

Models: parameter counts from safetensors headers (`model.safetensors.index.json`'s shards, else
`model.safetensors`, else every .safetensors file), GGUF summaries, `config` and `transformersInfo` from
config.json. Datasets: each data file's format and, where cheap, its row count (Parquet footers; lines of
small CSV/JSON Lines files). A file that cannot be read (corrupt, lying, missing) is left out and its
reason kept in `errors`; it never fails the job."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from haven.db import utcnow
from haven.formats import FormatError, gguf, parquet, safetensors
from haven.git.store import Entry, GitRepo, open_repo
from haven.hub import Hub
from haven.metadata.models import RepoMetadata
from haven.metadata.source import Budget, EntrySource
from haven.repos.library import MAX_SCAN, Files, infer, scan
from haven.repos.models import Repo

MAIN = "refs/heads/main"
MAX_FILES = 200  # safetensors / GGUF / data files read per commit
MAX_READ = 512 * 1024 * 1024  # header bytes one job reads in all
MAX_LINE_COUNT = 10 * 1024 * 1024  # CSV / JSON Lines files up to this size get their lines counted
MAX_INDEX = 10 * 1024 * 1024
MAX_TEMPLATE = 65536
TOKENIZER_KEYS = ("bos_token", "eos_token", "pad_token", "unk_token", "chat_template")
SPLIT_GGUF = re.compile(r"^(.*)-(\d{5})-of-(\d{5})\.gguf$", re.I)
DATA_EXTENSIONS = {
    ".parquet": "parquet",
    ".csv": "csv",
    ".tsv": "csv",
    ".jsonl": "json",
    ".json": "json",
    ".arrow": "arrow",
}


@dataclass
class Computed:
    safetensors: dict[str, Any] | None = None
    gguf: dict[str, Any] | None = None
    config: dict[str, Any] | None = None
    transformers_info: dict[str, Any] | None = None
    data_files: dict[str, Any] | None = None
    errors: dict[str, str] = field(default_factory=dict)


def refresh(hub: Hub, repo_id: int) -> None:
    """Compute and store the metadata of the repository's current head of main, unless it is stored."""
    with hub.db.read() as session:
        row = session.get(Repo, repo_id)
        stored = session.get(RepoMetadata, repo_id)
        stored_commit = stored.commit if stored else None
    if row is None:
        return  # deleted since
    git = open_repo(hub.repo_path(row.storage_key))
    head = git.ref(MAIN)
    if head is None or head == stored_commit:
        return
    computed = compute(hub, git, row.type, head)
    store(hub, git, repo_id, head, computed)


def compute(hub: Hub, git: GitRepo, repo_type: str, commit: str) -> Computed:
    entries = {e.path: e for e in islice(git.list_tree(commit, "", True), MAX_SCAN) if e.type == "file"}
    out = Computed()
    budget = Budget(MAX_READ)
    if repo_type == "model":
        files = scan(git, commit)
        out.safetensors = _safetensors(hub, git, entries, budget, out.errors)
        out.gguf = _gguf(hub, git, entries, budget, out.errors)
        out.config, out.transformers_info = _config(files)
    elif repo_type == "dataset":
        out.data_files = _data_files(hub, git, entries, budget, out.errors)
    return out


def store(hub: Hub, git: GitRepo, repo_id: int, commit: str, computed: Computed) -> None:
    """Write the row, unless main moved on meanwhile (the job queued by that move will describe it)."""
    values = {
        "commit": commit,
        "safetensors": computed.safetensors,
        "gguf": computed.gguf,
        "config": computed.config,
        "transformers_info": computed.transformers_info,
        "data_files": computed.data_files,
        "errors": computed.errors or None,
        "computed_at": utcnow(),
    }
    for _ in range(2):
        try:
            with hub.db.write() as session:
                if git.ref(MAIN) != commit or session.get(Repo, repo_id) is None:
                    return
                row = session.get(RepoMetadata, repo_id)
                if row is None:
                    session.add(RepoMetadata(repo_id=repo_id, **values))
                else:
                    for key, value in values.items():
                        setattr(row, key, value)
            return
        except IntegrityError:  # another process inserted the row first: update it
            continue


def stored(hub: Hub, repo_id: int) -> RepoMetadata | None:
    with hub.db.read() as session:
        return session.get(RepoMetadata, repo_id)


def stored_many(hub: Hub, repo_ids: list[int]) -> dict[int, RepoMetadata]:
    """The stored rows of several repositories at once (for listings' `expand=safetensors` and the like)."""
    if not repo_ids:
        return {}
    with hub.db.read() as session:
        rows = session.scalars(select(RepoMetadata).where(RepoMetadata.repo_id.in_(repo_ids)))
        return {r.repo_id: r for r in rows}


def info_fields(meta: RepoMetadata | None, repo_type: str, sha: str) -> dict[str, Any]:
    """The computed fields of repo info (model_info's safetensors, gguf, config, transformersInfo; the
    data files of dataset_info), when they describe `sha`."""
    if meta is None or meta.commit != sha:
        return {}
    out: dict[str, Any] = {}
    if repo_type == "model":
        for key, value in (
            ("safetensors", meta.safetensors),
            ("gguf", meta.gguf),
            ("config", meta.config),
            ("transformersInfo", meta.transformers_info),
        ):
            if value:
                out[key] = value
    elif repo_type == "dataset" and meta.data_files:
        out["dataFiles"] = meta.data_files
    if meta.errors:
        out["metadataErrors"] = meta.errors
    return out


# --- safetensors -------------------------------------------------------------------------------


def _safetensors(
    hub: Hub, git: GitRepo, entries: dict[str, Entry], budget: Budget, errors: dict[str, str]
) -> dict[str, Any] | None:
    paths = _safetensors_files(git, entries, errors)
    if not paths:
        return None
    parameters: dict[str, int] = {}
    read = 0
    for path in paths[:MAX_FILES]:
        entry = entries.get(path)
        if entry is None:
            errors[path] = "listed in the safetensors index, but not in the repository"
            continue
        try:
            header = safetensors.parse(EntrySource(hub, git, entry, budget))
        except FormatError as e:
            errors[path] = f"not a valid safetensors file: {e}"
            continue
        read += 1
        for dtype, n in header.parameters.items():
            parameters[dtype] = parameters.get(dtype, 0) + n
    if not read:
        return None
    return {"parameters": parameters, "total": sum(parameters.values())}


def _safetensors_files(git: GitRepo, entries: dict[str, Entry], errors: dict[str, str]) -> list[str]:
    index = entries.get("model.safetensors.index.json")
    if index is not None:
        shards = _index_shards(git, index, errors)
        if shards is not None:
            return shards
    if "model.safetensors" in entries:
        return ["model.safetensors"]
    return sorted(p for p in entries if p.endswith(".safetensors"))


def _index_shards(git: GitRepo, entry: Entry, errors: dict[str, str]) -> list[str] | None:
    if entry.pointer is not None or entry.size > MAX_INDEX:
        errors[entry.path] = "the safetensors index is too large to read"
        return None
    try:
        index = orjson.loads(git.read_blob(entry.oid))
    except orjson.JSONDecodeError as e:
        errors[entry.path] = f"not JSON: {e}"
        return None
    weight_map = index.get("weight_map") if isinstance(index, dict) else None
    if not isinstance(weight_map, dict):
        errors[entry.path] = "no weight_map"
        return None
    base = posixpath.dirname(entry.path)
    shards = {posixpath.normpath(posixpath.join(base, v)) for v in weight_map.values() if isinstance(v, str)}
    return sorted(shards)


# --- GGUF --------------------------------------------------------------------------------------


def _gguf(
    hub: Hub, git: GitRepo, entries: dict[str, Entry], budget: Budget, errors: dict[str, str]
) -> dict[str, Any] | None:
    """The Hub's `gguf` summary of the repository's first GGUF file (sorted by path), with every file's
    own summary under `files`."""
    summaries: dict[str, dict[str, Any]] = {}
    for path in sorted(p for p in entries if p.lower().endswith(".gguf"))[:MAX_FILES]:
        entry = entries[path]
        try:
            summaries[path] = gguf.parse(EntrySource(hub, git, entry, budget)).summary(entry.size)
        except FormatError as e:
            errors[path] = f"not a valid GGUF file: {e}"
    if not summaries:
        return None
    first_path, first = next(iter(summaries.items()))
    files = {p: {k: v for k, v in s.items() if k != "chat_template"} for p, s in summaries.items()}
    split = SPLIT_GGUF.match(first_path)
    if split:  # a model split into parts (llama.cpp's gguf-split): the summary covers all of them
        parts = [s for p, s in summaries.items() if (m := SPLIT_GGUF.match(p)) and m.group(1, 3) == split.group(1, 3)]
        first = {**first, **{k: sum(p.get(k, 0) for p in parts) for k in ("total", "size", "tensors")}}
        first["parts"] = len(parts)
    return {**first, "files": files}


# --- config.json -------------------------------------------------------------------------------


def _config(files: Files) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """model_info's `config` (the parts of config.json and friends the Hub shows) and `transformersInfo`."""
    config: dict[str, Any] = {}
    raw = files.json.get("config.json")
    if raw is not None:
        if isinstance(raw.get("architectures"), list):
            config["architectures"] = [a for a in raw["architectures"] if isinstance(a, str)][:16]
        if isinstance(raw.get("model_type"), str):
            config["model_type"] = raw["model_type"][:64]
    tokenizer = files.json.get("tokenizer_config.json")
    if tokenizer is not None:
        kept = {k: tokenizer[k] for k in TOKENIZER_KEYS if _short(tokenizer.get(k))}
        if kept:
            config["tokenizer_config"] = kept
    adapter = files.json.get("adapter_config.json")
    if adapter is not None:
        config["peft"] = {k: adapter[k] for k in ("base_model_name_or_path", "task_type") if _short(adapter.get(k))}
    index = files.json.get("model_index.json")
    if index is not None and _short(index.get("_class_name")):
        config["diffusers"] = {"_class_name": index["_class_name"]}
    inferred = infer(files, "model")
    info = None
    if inferred.auto_model:
        info = {"auto_model": inferred.auto_model}
        for key, value in (
            ("pipeline_tag", inferred.pipeline),
            ("processor", inferred.processor),
            ("custom_class", inferred.custom_class),
        ):
            if value:
                info[key] = value
    return config or None, info


def _short(value: Any) -> bool:
    return isinstance(value, str) and len(value) <= MAX_TEMPLATE


# --- dataset files -----------------------------------------------------------------------------


def _data_files(
    hub: Hub, git: GitRepo, entries: dict[str, Entry], budget: Budget, errors: dict[str, str]
) -> dict[str, Any] | None:
    found = []
    for path in sorted(entries):
        ext = posixpath.splitext(path)[1].lower()
        fmt = DATA_EXTENSIONS.get(ext)
        if fmt is None or path.rsplit("/", 1)[-1].startswith(".") or path == "dataset_infos.json":
            continue
        found.append((path, ext, fmt))
    if not found:
        return None
    files = []
    total: int | None = 0
    for path, ext, fmt in found[:MAX_FILES]:
        entry = entries[path]
        item: dict[str, Any] = {"path": path, "format": fmt, "size": entry.size}
        rows = None
        try:
            source = EntrySource(hub, git, entry, budget)
            if fmt == "parquet":
                rows = parquet.num_rows(source)
            elif ext in (".csv", ".tsv", ".jsonl") and entry.size <= MAX_LINE_COUNT:
                rows = _lines(source.read(0, entry.size), header=ext != ".jsonl")
        except FormatError as e:
            errors[path] = f"not a valid {fmt} file: {e}"
        if rows is not None:
            item["numRows"] = rows
        if rows is None or total is None:
            total = None
        else:
            total += rows
        files.append(item)
    out: dict[str, Any] = {"formats": sorted({f["format"] for f in files}), "files": files}
    if total is not None and len(found) <= MAX_FILES:
        out["numRows"] = total
    return out


def _lines(data: bytes, header: bool) -> int:
    """Non-empty lines (less a CSV header): rows, for files without quoted newlines."""
    n = sum(1 for line in data.splitlines() if line.strip())
    return max(n - 1, 0) if header else n
