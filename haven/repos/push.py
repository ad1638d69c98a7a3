"""The rules a `git push` must follow (the API's commit rules), checked before any ref moves, and the
metadata work after one (the same as after an API commit).

`check_push` runs while git holds the pushed objects in quarantine (called from the pre-receive hook,
see haven.git.smart_http.PushGate); git itself reads them there, so a refused push leaves no trace.
Every file a new commit adds or changes is checked: its path, that it is not a submodule, that it is
stored with Git LFS when it is at least `lfs_threshold` bytes, and that an LFS pointer names an object
uploaded to this repository. Ref rules: only branches, tags and the branches of open pull requests
(refs/pr/N, never deleted), never deleting main; a pusher with only the right to contribute (not to write)
moves pull requests' refs only, as their API commits do.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from haven.auth.permissions import Actor
from haven.discussions import pulls
from haven.errors import BadRequest
from haven.git.lfs import MAX_POINTER_SIZE, parse_pointer
from haven.git.smart_http import base_env
from haven.git.store import ZERO
from haven.hub import Hub
from haven.names import check_branch_name, check_path
from haven.repos import lfs
from haven.repos.commits import after_commit
from haven.repos.locks import repo_lock
from haven.repos.refs import DEFAULT_BRANCH
from haven.repos.service import RepoRef
from haven.webhooks import events as hooks

QUARANTINE_ENV = ("GIT_OBJECT_DIRECTORY", "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_QUARANTINE_PATH")
MAX_LISTED = 20  # offending files named in a refusal
LINK_BATCH = 500  # LFS objects looked up per query


@dataclass(frozen=True)
class RefUpdate:
    old: str
    new: str
    name: str

    @property
    def delete(self) -> bool:
        return self.new == ZERO


@dataclass(frozen=True)
class NewFile:
    path: str
    blob: str
    mode: str


def check_push(
    hub: Hub, ref: RepoRef, updates: list[RefUpdate], quarantine: dict[str, str], may_write: bool
) -> str | None:
    """None if the push may proceed, else the message that refuses it (all problems found, one per line).
    A pusher who may not write (a contributor) moves pull requests' refs only."""
    env = _git_env(ref.path, quarantine)
    problems = _check_refs(hub, ref, updates, env, may_write)
    if problems:
        return _refusal(problems)
    tips = [u.new for u in updates if not u.delete]
    if not tips:
        return None
    files, problems = _new_files(ref.path, tips, env)
    sizes = _sizes(ref.path, sorted({f.blob for f in files}), env)
    threshold = hub.settings.lfs_threshold
    large = [f for f in files if sizes.get(f.blob, 0) >= threshold]
    if large:
        problems.append(_large_message(large, sizes, threshold))
    small = sorted({f.blob for f in files if sizes.get(f.blob, MAX_POINTER_SIZE + 1) <= MAX_POINTER_SIZE})
    pointers = {}
    for blob, data in _contents(ref.path, small, env).items():
        pointer = parse_pointer(data)
        if pointer is not None:
            pointers[blob] = pointer
    if pointers:
        oids = sorted({p.oid for p in pointers.values()})
        linked: dict[str, int] = {}
        for i in range(0, len(oids), LINK_BATCH):
            linked.update(lfs.linked(hub, ref.row.id, oids[i : i + LINK_BATCH]))
        missing = [f for f in files if f.blob in pointers and linked.get(pointers[f.blob].oid) != pointers[f.blob].size]
        if missing:
            problems.append(_missing_lfs_message(missing, pointers))
    return _refusal(problems) if problems else None


def _refusal(problems: list[str]) -> str:
    return "Haven refused this push:\n" + "\n".join(problems)


def _git_env(repo: Path, quarantine: dict[str, str]) -> dict[str, str]:
    """git's environment to read the repository with the pushed objects, which are still in quarantine."""
    env = base_env(None)
    root = repo.resolve()
    for key in QUARANTINE_ENV:
        value = quarantine.get(key)
        if value is None:
            continue
        for part in value.split(os.pathsep):
            if part and not Path(part).resolve().is_relative_to(root):
                raise ValueError(f"{key} points outside the repository")
        env[key] = value
    return env


def _git(repo: Path, args: list[str], env: dict[str, str], stdin: bytes = b"") -> bytes:
    proc = subprocess.run(
        ["git", "--git-dir", str(repo), *args], input=stdin, capture_output=True, env=env, check=False
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed: {proc.stderr.decode('utf-8', 'replace').strip()}")
    return proc.stdout


def _check_refs(hub: Hub, ref: RepoRef, updates: list[RefUpdate], env: dict[str, str], may_write: bool) -> list[str]:
    problems = []
    for u in updates:
        if u.name.startswith("refs/pr/"):
            problem = pulls.push_problem(hub, ref.row.id, u.name, u.new)
            if problem:
                problems.append(f"  {u.name}: {problem}")
            continue
        if not may_write:
            problems.append(f"  {u.name}: needs write access; contributors push to pull requests (refs/pr/<number>)")
            continue
        short = next((u.name[len(p) :] for p in ("refs/heads/", "refs/tags/") if u.name.startswith(p)), "")
        if not short:
            problems.append(f"  {u.name}: only branches (refs/heads/*) and tags (refs/tags/*) can be pushed")
            continue
        try:
            check_branch_name(short)
        except BadRequest as e:
            problems.append(f"  {u.name}: {e.message}")
            continue
        if u.delete and u.name == f"refs/heads/{DEFAULT_BRANCH}":
            problems.append(f"  {u.name}: the default branch {DEFAULT_BRANCH} cannot be deleted")
    targets = [u for u in updates if not u.delete]
    if problems or not targets:
        return problems
    # Branches point at commits; tags at commits or at annotated tags of commits.
    query = "".join(f"{u.new}\n{u.new}^{{commit}}\n" for u in targets).encode()
    lines = _git(ref.path, ["cat-file", "--batch-check=%(objecttype)"], env, query).decode().splitlines()
    for i, u in enumerate(targets):
        direct, peeled = lines[2 * i], lines[2 * i + 1]
        if peeled != "commit" or (u.name.startswith(("refs/heads/", "refs/pr/")) and direct != "commit"):
            problems.append(f"  {u.name}: must point to a commit")
    return problems


def _new_files(repo: Path, tips: list[str], env: dict[str, str]) -> tuple[list[NewFile], list[str]]:
    """Every file added or changed by a commit the push brings (against its first parent), with path problems."""
    log = ["log", "-z", "--format=", "--raw", "--no-renames", "--no-abbrev", "--root", "--diff-merges=first-parent"]
    out = _git(repo, [*log, *tips, "--not", "--all"], env)
    tokens = out.split(b"\0")
    files: dict[tuple[str, str], NewFile] = {}
    problems: list[str] = []
    bad_paths: list[str] = []
    i = 0
    while i + 1 < len(tokens):
        meta, raw_path = tokens[i].strip(b"\n"), tokens[i + 1]
        i += 2
        if not meta.startswith(b":"):
            i -= 1  # separator noise between commits
            continue
        _, dst_mode, _, dst_blob, status = meta[1:].decode().split(" ")
        if status == "D":
            continue
        try:
            path = raw_path.decode("utf-8")
            check_path(path)
        except UnicodeDecodeError:
            bad_paths.append(f"  {raw_path!r}: file paths must be UTF-8")
            continue
        except BadRequest as e:
            bad_paths.append(f"  {e.message}")
            continue
        if dst_mode == "160000":
            bad_paths.append(f"  {path}: submodules are not supported")
            continue
        files.setdefault((path, dst_blob), NewFile(path, dst_blob, dst_mode))
    if bad_paths:
        problems.append("Invalid files:\n" + "\n".join(_limit(sorted(set(bad_paths)))))
    return list(files.values()), problems


def _sizes(repo: Path, blobs: list[str], env: dict[str, str]) -> dict[str, int]:
    if not blobs:
        return {}
    out = _git(repo, ["cat-file", "--batch-check=%(objectname) %(objectsize)"], env, "\n".join(blobs).encode() + b"\n")
    sizes = {}
    for line in out.decode().splitlines():
        name, _, size = line.partition(" ")
        if size.isdigit():
            sizes[name] = int(size)
    return sizes


def _contents(repo: Path, blobs: list[str], env: dict[str, str]) -> dict[str, bytes]:
    """The bytes of small blobs (`git cat-file --batch`)."""
    if not blobs:
        return {}
    out = _git(repo, ["cat-file", "--batch"], env, "\n".join(blobs).encode() + b"\n")
    contents, pos = {}, 0
    while pos < len(out):
        end = out.index(b"\n", pos)
        header = out[pos:end].decode().split(" ")
        pos = end + 1
        if len(header) != 3:  # "<oid> missing"
            continue
        size = int(header[2])
        contents[header[0]] = out[pos : pos + size]
        pos += size + 1
    return contents


def _limit(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"  ... and {len(lines) - MAX_LISTED} more"]


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB"


def _large_message(large: list[NewFile], sizes: dict[str, int], threshold: int) -> str:
    by_path = {f.path: sizes[f.blob] for f in large}
    example = min(by_path)
    return (
        f"Files of {_mb(threshold)} or more must be stored with Git LFS:\n"
        + "\n".join(_limit([f"  {p} ({_mb(n)})" for p, n in sorted(by_path.items())]))
        + "\nTrack them with Git LFS, then commit them again, for example:\n"
        f'  git lfs install && git lfs track "{example}"\n'
        "  git add .gitattributes && git add --renormalize . && git commit --amend\n"
        f'(already in earlier commits? git lfs migrate import --include="{example}")'
    )


def _missing_lfs_message(missing: list[NewFile], pointers: dict) -> str:  # type: ignore[type-arg]
    listed = _limit(sorted({f"  {f.path} (oid sha256:{pointers[f.blob].oid})" for f in missing}))
    return (
        "Git LFS objects missing from this repository (the pointer files name objects that were never "
        "uploaded to it):\n" + "\n".join(listed) + "\nInstall Git LFS (git lfs install) so that git push "
        "uploads them, or run `git lfs push --all origin` before pushing again."
    )


# --- after the push ------------------------------------------------------------------------------------


def after_push(hub: Hub, ref: RepoRef, before: dict[str, str], actor: Actor | None = None) -> None:
    """Record what a push changed, as after an API commit: head and card of main, lastModified, storage.

    Under the repository lock, from the refs as they are now: whatever order pushes and API commits end
    in, the last one to record leaves the metadata describing the current head."""
    sweep_quarantines(ref.path)
    with repo_lock(hub.db, ref):
        now = ref.git.refs()
        changed = sorted(name for name in before.keys() | now.keys() if before.get(name) != now.get(name))
        if not changed:
            return
        for name in changed:
            if name.startswith("refs/pr/") and name in now and actor is not None:
                pulls.record_push(hub, ref, actor, name, before.get(name), now[name])
        main = f"refs/heads/{DEFAULT_BRANCH}"
        if main in changed and main in now:
            after_commit(hub, ref, main, now[main])
        else:
            after_commit(hub, ref, changed[0], now.get(changed[0], ZERO))
    hooks.emit_refs(hub, ref.row.id, [(name, before.get(name), now.get(name)) for name in changed])


STALE_QUARANTINE = 24 * 3600  # seconds since anything in it was written


def sweep_quarantines(repo: Path, now: float | None = None) -> list[Path]:
    """Remove the quarantine dirs of pushes that died without cleaning up (receive-pack killed with -9).

    git removes its own quarantine on every normal exit; one whose newest file is a day old belongs to no
    running push (a receiving pack file is written to continuously), so it only holds unreferenced objects."""
    now = time.time() if now is None else now
    removed = []
    for path in (repo / "objects").glob("tmp_objdir-incoming-*"):
        try:
            newest = max([path.stat().st_mtime, *(p.stat().st_mtime for p in path.rglob("*"))])
        except FileNotFoundError:  # git finished with it meanwhile
            continue
        if now - newest > STALE_QUARANTINE:
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path)
    return removed
