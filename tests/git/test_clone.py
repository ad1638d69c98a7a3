"""git clone and fetch over HTTP: every repository type and URL form, visibility, shallow and partial clones."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd

from tests.conftest import Hub
from tests.git.conftest import Git, unique, url

FILES = {"README.md": b"# hello\n", "sub/dir/a.txt": b"alpha\n", "weights.bin": b"\x00\x01" * 3000}


def _make(hub: Hub, repo_type: str = "model", owner: str = "alice", private: bool = False) -> str:
    repo_id = f"{owner}/{unique()}"
    api = hub.api("alice")
    api.create_repo(repo_id, repo_type=repo_type, private=private, space_sdk="static" if repo_type == "space" else None)
    api.create_commit(
        repo_id,
        [CommitOperationAdd(p, d) for p, d in FILES.items()],
        commit_message="seed",
        repo_type=repo_type,
    )
    return repo_id


def _check_checkout(path: Path) -> None:
    for name, data in FILES.items():
        assert (path / name).read_bytes() == data, name


@pytest.mark.parametrize("repo_type", ["model", "dataset", "space"])
def test_anonymous_clone_of_every_repo_type_with_and_without_dot_git(
    sqlite_hub: Hub, git: Git, tmp_path: Path, repo_type: str
) -> None:
    hub = sqlite_hub
    repo_id = _make(hub, repo_type)
    prefix = {"model": "", "dataset": "datasets/", "space": "spaces/"}[repo_type]
    for suffix in ("", ".git"):
        dest = tmp_path / f"clone{suffix}"
        git.run("clone", "-q", url(hub, prefix + repo_id + suffix), str(dest))
        _check_checkout(dest)  # weights.bin arrives through git-lfs's smudge filter
        sha = hub.api(None).repo_info(repo_id, repo_type=repo_type).sha
        assert git.out("rev-parse", "HEAD", cwd=dest) == sha
        assert git.out("lfs", "ls-files", "-n", cwd=dest) == "weights.bin"


def test_clone_with_protocol_v0_and_v2(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    repo_id = _make(sqlite_hub)
    for version in ("0", "1", "2"):
        dest = tmp_path / f"v{version}"
        git.run("-c", f"protocol.version={version}", "clone", "-q", url(sqlite_hub, repo_id), str(dest))
        _check_checkout(dest)


def test_private_repositories(hub: Hub, git: Git, tmp_path: Path) -> None:
    """Anonymous: 401, so git asks for credentials; no access: 404; owner, org reader: the clone."""
    repo_id = _make(hub, private=True)
    anonymous = git.run("clone", "-q", url(hub, repo_id), str(tmp_path / "anon"), check=False)
    assert anonymous.returncode != 0 and "could not read Username" in anonymous.stderr
    assert not (tmp_path / "anon").exists()

    stranger = git.run("clone", "-q", url(hub, repo_id, "bob"), str(tmp_path / "bob"), check=False)
    assert stranger.returncode != 0 and "not found" in stranger.stderr

    git.run("clone", "-q", url(hub, repo_id, "alice"), str(tmp_path / "alice"))
    _check_checkout(tmp_path / "alice")

    org_repo = _make(hub, owner="acme", private=True)
    git.run("clone", "-q", url(hub, org_repo, "carol", read_only=True), str(tmp_path / "carol"))
    _check_checkout(tmp_path / "carol")


def test_private_clone_with_a_credential_helper(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    """Credentials asked for after the 401, by git and by git-lfs (whose LFS download also needs them)."""
    repo_id = _make(sqlite_hub, private=True)
    token = sqlite_hub.tokens["alice"]
    helper = f"!f() {{ echo username=alice; echo password={token}; }}; f"
    dest = tmp_path / "c"
    git.run("-c", f"credential.helper={helper}", "clone", "-q", url(sqlite_hub, repo_id), str(dest))
    _check_checkout(dest)
    assert "password" not in (dest / ".git" / "config").read_text()


def test_bearer_and_basic_credentials(sqlite_hub: Hub, tmp_path: Path) -> None:
    repo_id = _make(sqlite_hub, private=True)
    token = sqlite_hub.tokens["alice"]
    path = f"{sqlite_hub.url}/{repo_id}/info/refs?service=git-upload-pack"
    assert httpx.get(path).status_code == 401
    assert httpx.get(path).headers["www-authenticate"].startswith("Basic")
    assert httpx.get(path, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    r = httpx.get(path, auth=("anything", token))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-git-upload-pack-advertisement"
    assert r.content.startswith(b"001e# service=git-upload-pack\n0000")
    assert httpx.get(path, auth=("alice", "hv_wrong")).status_code == 401
    assert httpx.get(path, auth=("bob", sqlite_hub.tokens["bob"])).status_code == 404


def test_shallow_and_partial_clones_and_fetch_of_api_commits(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = _make(hub)
    api = hub.api("alice")
    for i in range(3):
        api.create_commit(repo_id, [CommitOperationAdd(f"n{i}.txt", b"%d" % i)], commit_message=f"c{i}")

    shallow = tmp_path / "shallow"
    git.run("clone", "-q", "--depth", "1", url(hub, repo_id), str(shallow))
    assert git.out("rev-list", "--count", "HEAD", cwd=shallow) == "1"
    assert (shallow / "n2.txt").read_bytes() == b"2"
    git.run("fetch", "-q", "--deepen", "2", cwd=shallow)
    assert git.out("rev-list", "--count", "HEAD", cwd=shallow) == "3"

    partial = tmp_path / "partial"
    git.run("clone", "-q", "--filter=blob:none", "--no-checkout", url(hub, repo_id), str(partial))
    assert git.out("config", "remote.origin.partialclonefilter", cwd=partial) == "blob:none"
    missing = git.out("rev-list", "--objects", "--missing=print", "HEAD", cwd=partial)
    assert any(line.startswith("?") for line in missing.splitlines())  # blobs left on the server
    git.run("checkout", "-q", "main", cwd=partial)  # fetched on demand
    _check_checkout(partial)

    # An API commit, then git pull: fast-forwarded to exactly the commit the API made.
    new = api.create_commit(repo_id, [CommitOperationAdd("api.txt", b"from the API")], commit_message="api").oid
    git.run("pull", "-q", "--ff-only", cwd=partial)
    assert git.out("rev-parse", "HEAD", cwd=partial) == new
    assert (partial / "api.txt").read_bytes() == b"from the API"


def test_dumb_protocol_and_unknown_repositories(sqlite_hub: Hub) -> None:
    repo_id = _make(sqlite_hub)
    r = httpx.get(f"{sqlite_hub.url}/{repo_id}/info/refs")
    assert r.status_code == 403 and "smart HTTP" in r.text
    token = sqlite_hub.tokens["alice"]
    missing = f"{sqlite_hub.url}/alice/{unique()}/info/refs?service=git-upload-pack"
    assert httpx.get(missing).status_code == 401  # as for a private one: nothing leaks
    assert httpx.get(missing, auth=("alice", token)).status_code == 404
    assert r.headers["content-type"].startswith("text/plain")
