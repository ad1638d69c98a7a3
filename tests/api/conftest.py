"""Fixtures for the API conformance suite: a richly populated repository built once per backend.

Read-only tests share `populated`; tests that change a repository make their own with `repo_id`.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import Hub

BIG_SIZE = 11 * 1024 * 1024  # above the 10 MB LFS threshold, with a name no .gitattributes rule matches
README = """---
library_name: transformers
pipeline_tag: text-classification
license: mit
language: en
tags:
- haven-conformance
- tiny
---
# A tiny test model
"""


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob holding `data`."""
    return hashlib.sha1(b"blob %d\x00" % len(data) + data).hexdigest()


def unique(prefix: str = "r") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


@dataclass
class Populated:
    """alice/<name> with a model card, nested folders, a small LFS file (by extension) and an 11 MB LFS file
    (by size). History: `first` (tagged v1) -> `head` on main; branch `feature/x` adds one file on top of head."""

    repo_id: str
    files: dict[str, bytes]
    first: str
    head: str
    branch: str
    branch_commit: str
    branch_files: dict[str, bytes] = field(default_factory=dict)

    @property
    def big(self) -> bytes:
        return self.files["blobs/big.dat"]


_POPULATED: dict[str, Populated] = {}


def _build(hub: Hub, root: Path) -> Populated:
    from huggingface_hub import CommitOperationAdd

    api = hub.api("alice")
    repo_id = f"alice/{unique('populated-')}"
    api.create_repo(repo_id)
    rng = random.Random(1234)
    files = {
        "README.md": README.encode(),
        "config.json": b'{"hidden_size": 8, "model_type": "bert"}',
        "sub/dir/a.txt": b"alpha\n",
        "sub/b.txt": b"bravo\n",
        "dir one/b file.txt": b"spaces in names\n",
        "weights.safetensors": rng.randbytes(2048),
        "blobs/big.dat": rng.randbytes(BIG_SIZE),
    }
    folder = root / "upload"
    for path, data in files.items():
        target = folder / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    first = api.upload_folder(repo_id=repo_id, folder_path=folder, commit_message="Add the model").oid
    api.create_tag(repo_id, tag="v1", revision=first)
    files["notes.txt"] = b"second commit\n"
    head = api.create_commit(
        repo_id, [CommitOperationAdd("notes.txt", files["notes.txt"])], commit_message="Add notes"
    ).oid
    branch = "feature/x"
    api.create_branch(repo_id, branch=branch)
    branch_files = {"only-on-branch.txt": b"branch content\n"}
    branch_commit = api.create_commit(
        repo_id,
        [CommitOperationAdd("only-on-branch.txt", branch_files["only-on-branch.txt"])],
        commit_message="Branch work",
        revision=branch,
    ).oid
    return Populated(repo_id, files, first, head, branch, branch_commit, branch_files)


@pytest.fixture
def populated(hub: Hub, tmp_path_factory: pytest.TempPathFactory) -> Populated:
    """A shared, never-modified repository (built once per backend)."""
    if hub.backend not in _POPULATED:
        _POPULATED[hub.backend] = _build(hub, tmp_path_factory.mktemp(f"populated-{hub.backend}"))
    return _POPULATED[hub.backend]
