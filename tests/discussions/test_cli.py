"""The stock `hf discussions` command line against Haven: create, list, comment, info, diff, merge, close."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub

HF = shutil.which("hf") or shutil.which("hf", path=str(Path(sys.executable).parent))  # the venv's, off PATH in CI
pytestmark = pytest.mark.skipif(HF is None, reason="the hf CLI is not installed")


def _hf(hub: Hub, home: Path, *args: str, user: str = "alice") -> str:
    proc = subprocess.run(
        [str(HF), *args], env=hub.client_env(user, home), capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, f"hf {' '.join(args)}: {proc.stderr[-3000:]}"
    return proc.stdout


def _json(hub: Hub, home: Path, *args: str, user: str = "alice") -> Any:
    return json.loads(_hf(hub, home, *args, "--format", "json", user=user))


def test_hf_discussions_round_trip(sqlite_hub: Hub, repo_name: str, tmp_path: Path) -> None:
    hub, repo_id = sqlite_hub, f"alice/{repo_name}"
    hub.api("alice").create_repo(repo_id)
    pr = hub.api("bob").create_commit(
        repo_id, [CommitOperationAdd("pr.txt", b"by bob\n")], commit_message="Add pr.txt", create_pr=True
    )
    _hf(hub, tmp_path, "discussions", "create", repo_id, "--title", "A question", "--body", "Why?", user="bob")
    listed = _json(hub, tmp_path, "discussions", "list", repo_id)
    assert sorted((d["num"], d["is_pull_request"]) for d in listed) == [(pr.pr_num, True), (pr.pr_num + 1, False)]
    assert [d["num"] for d in _json(hub, tmp_path, "discussions", "list", repo_id, "--kind", "pull_request")] == [1]
    _hf(hub, tmp_path, "discussions", "comment", repo_id, "2", "--body", "Because.")
    assert "+by bob" in _hf(hub, tmp_path, "discussions", "diff", repo_id, "1")
    _hf(hub, tmp_path, "discussions", "merge", repo_id, "1", "--yes")
    _hf(hub, tmp_path, "discussions", "close", repo_id, "2", "--yes", "--comment", "Answered")
    merged = _json(hub, tmp_path, "discussions", "list", repo_id, "--status", "merged")
    assert [d["num"] for d in merged] == [1]
    info = hub.api("alice").get_discussion_details(repo_id, 2)
    assert info.status == "closed" and [e.type for e in info.events] == [
        "comment",
        "comment",
        "comment",
        "status-change",
    ]
