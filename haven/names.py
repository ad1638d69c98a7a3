"""Validation of the names and paths that arrive from clients, at the boundary."""

from __future__ import annotations

import re

from haven.errors import BadRequest

REPO_TYPES = ("model", "dataset", "space")
PLURAL = {"models": "model", "datasets": "dataset", "spaces": "space"}
URL_PREFIX = {"model": "", "dataset": "datasets/", "space": "spaces/"}

_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,95}$")
RESERVED_NAMESPACES = frozenset(
    [
        "api",
        "datasets",
        "spaces",
        "models",
        "kernels",
        "docs",
        "settings",
        "login",
        "logout",
        "join",
        "signup",
        "new",
        "organizations",
        "users",
        "static",
        "_lfs",
        "_blobs",
        "_xet",
        "assets",
        "search",
        "collections",
        "pricing",
        "admin",
    ]
)
MAX_PATH_LENGTH = 1000
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


def check_name(name: str, what: str = "repository name") -> str:
    """The Hub's repo-id part rules: [A-Za-z0-9_.-], at most 96 characters, no `--`/`..`, no `.git` suffix."""
    if (
        not _NAME_RE.match(name)
        or "--" in name
        or ".." in name
        or name.endswith((".git", "-", "."))
        or name.endswith(".ipynb")
    ):
        raise BadRequest(
            f"Invalid {what} {name!r}: use up to 96 letters, digits, '-', '_' or '.', starting with a letter "
            "or digit, without '--' or '..', not ending in '.git', '-' or '.'"
        )
    return name


def check_namespace(name: str) -> str:
    check_name(name, "namespace")
    if name.lower() in RESERVED_NAMESPACES:
        raise BadRequest(f"{name!r} is a reserved name")
    return name


def check_path(path: str) -> str:
    """A file path inside a repository: relative POSIX, no `.`/`..`/empty segments, nothing in `.git/`."""
    if not path or len(path) > MAX_PATH_LENGTH:
        raise BadRequest(f"Invalid path: must be 1 to {MAX_PATH_LENGTH} characters")
    if _CONTROL_RE.search(path):
        raise BadRequest(f"Invalid path {path!r}: control characters are not allowed")
    if path.startswith("/"):
        raise BadRequest(f"Invalid path {path!r}: absolute paths are not allowed")
    parts = path.split("/")
    for part in parts:
        if part in ("", ".", ".."):
            raise BadRequest(f"Invalid path {path!r}: empty, '.' and '..' segments are not allowed")
        if len(part.encode()) > 255:
            raise BadRequest(f"Invalid path {path!r}: a segment is longer than 255 bytes")
    if parts[0] == ".git" or ".git" in parts:
        raise BadRequest(f"Invalid path {path!r}: '.git' is reserved")
    return path


_REV_BAD = re.compile(r"(\.\.|[\x00-\x20~^:?*\[\\\x7f]|@\{|//|/\.|\.lock(/|$)|^/|/$|^\.|\.$)")


def check_revision(rev: str) -> str:
    """A revision as clients name it: a branch, tag, full ref or commit id, within git's ref-name rules."""
    if not rev or len(rev) > 255 or _REV_BAD.search(rev):
        raise BadRequest(f"Invalid rev id: {rev}")
    return rev


def check_branch_name(name: str) -> str:
    check_revision(name)
    if name.startswith("refs/") or re.fullmatch(r"[0-9a-f]{40}", name):
        raise BadRequest(f"Invalid branch name: {name}")
    return name
