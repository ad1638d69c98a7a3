"""The web routes shadow none of the wire contract: git smart HTTP, /resolve and the API answer as before."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import httpx
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub
from tests.support import tempdir
from tests.web.conftest import unique

FILES = {
    "README.md": b"# hi\n",
    "tree/a.txt": b"alpha\n",
    "resolve/b.txt": b"beta\n",
    "page.html": b"<script>x</script>",
}


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tempdir("haven-web-git-")),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_LFS_SKIP_SMUDGE": "1",
    }
    proc = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def _repo(hub: Hub, repo_type: str = "model") -> str:
    repo_id = f"alice/{unique('r')}"
    api = hub.api("alice")
    api.create_repo(repo_id, repo_type=repo_type, space_sdk="static" if repo_type == "space" else None)
    ops = [CommitOperationAdd(p, d) for p, d in FILES.items()]
    api.create_commit(repo_id, ops, commit_message="seed", repo_type=repo_type)
    return repo_id


def test_git_clone_still_works_beside_the_web_pages(sqlite_hub: Hub, tmp_path: Path) -> None:
    for repo_type, prefix in (("model", ""), ("dataset", "datasets/"), ("space", "spaces/")):
        repo_id = _repo(sqlite_hub, repo_type)
        for suffix in ("", ".git"):
            dest = tmp_path / f"{repo_type}{suffix}"
            _git("clone", "-q", f"{sqlite_hub.url}/{prefix}{repo_id}{suffix}", str(dest))
            for name, data in FILES.items():
                assert (dest / name).read_bytes() == data
        # The same URL is the repository's web page for a browser.
        page = httpx.get(f"{sqlite_hub.url}/{prefix}{repo_id}", headers={"accept": "text/html"})
        assert page.status_code == 200 and "text/html" in page.headers["content-type"]
        refs = httpx.get(f"{sqlite_hub.url}/{prefix}{repo_id}/info/refs", params={"service": "git-upload-pack"})
        assert refs.headers["content-type"] == "application/x-git-upload-pack-advertisement"


def test_resolve_and_api_routes_still_win(sqlite_hub: Hub) -> None:
    repo_id = _repo(sqlite_hub)
    base = sqlite_hub.url
    for path, data in FILES.items():
        r = httpx.get(f"{base}/{repo_id}/resolve/main/{path}")
        assert r.status_code == 200 and r.content == data
        assert httpx.head(f"{base}/{repo_id}/resolve/main/{path}").headers["content-length"] == str(len(data))
    r = httpx.get(f"{base}/datasets/{repo_id}/resolve/main/README.md")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"  # not a dataset: the API's 404
    # A repository file opened from /resolve is sandboxed: HTML in it cannot script the hub's origin.
    r = httpx.get(f"{base}/{repo_id}/resolve/main/page.html")
    assert "sandbox" in r.headers["content-security-policy"] and r.headers["x-content-type-options"] == "nosniff"
    assert httpx.get(f"{base}/api/models/{repo_id}").json()["id"] == repo_id
    r = httpx.get(f"{base}/api/models/{repo_id}/tree/main/tree")
    assert [e["path"] for e in r.json()] == ["tree/a.txt"]
    r = httpx.get(f"{base}/api/no/such/route", headers={"accept": "text/html"})
    assert r.status_code == 404 and r.headers["content-type"].startswith("application/json")
    # The model's web tree for a directory named like an API word.
    assert httpx.get(f"{base}/{repo_id}/tree/main/resolve").status_code == 200


def test_resolve_keeps_its_fast_route_with_the_web_mounted(tmp_path: Path) -> None:
    from haven.api.files import route_resolve_first
    from haven.app import create_app
    from haven.config import Settings

    app = create_app(Settings(data_dir=tmp_path, blob_port=0))
    assert route_resolve_first(app)
