"""git push: what lands is what the API serves at once; what breaks the API's commit rules is refused before
any ref moves; pushes and API commits interleave without losing an update."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from huggingface_hub import CommitOperationAdd, hf_hub_download

from tests.conftest import Hub
from tests.git.conftest import Git, unique, url


def _repo(hub: Hub, owner: str = "alice", private: bool = False) -> str:
    repo_id = f"{owner}/{unique()}"
    hub.api("alice").create_repo(repo_id, private=private)
    return repo_id


def _clone(hub: Hub, git: Git, repo_id: str, dest: Path, user: str = "alice") -> Path:
    git.run("clone", "-q", url(hub, repo_id, user), str(dest))
    return dest


def _refs(hub: Hub, repo_id: str) -> dict[str, str]:
    refs = hub.api("alice").list_repo_refs(repo_id)
    return {r.ref: r.target_commit for r in [*refs.branches, *refs.tags]}


CARD = b"""---
license: mit
pipeline_tag: text-classification
tags:
- pushed-with-git
---
# Pushed with git
"""


def test_push_is_visible_to_the_api_at_once(hub: Hub, git: Git, tmp_path: Path) -> None:
    repo_id = _repo(hub)
    work = _clone(hub, git, repo_id, tmp_path / "w")
    before = hub.api("alice").model_info(repo_id)
    (work / "README.md").write_bytes(CARD)
    (work / "config.json").write_bytes(b'{"hidden_size": 8}')
    (work / "deep" / "er").mkdir(parents=True)
    (work / "deep" / "er" / "notes.txt").write_bytes(b"notes\n")
    sha = git.commit_all(work, "Pushed with git\n\nA longer description.")
    push = git.run("push", "origin", "main", cwd=work)
    assert "main -> main" in push.stderr

    api = hub.api("alice")
    info = api.model_info(repo_id, files_metadata=True)
    assert info.sha == sha
    assert info.last_modified > before.last_modified
    assert "pushed-with-git" in info.tags and info.pipeline_tag == "text-classification"
    assert info.card_data is not None and info.card_data["license"] == "mit"
    assert {s.rfilename for s in info.siblings} == {".gitattributes", "README.md", "config.json", "deep/er/notes.txt"}
    commits = api.list_repo_commits(repo_id)
    assert commits[0].commit_id == sha and commits[0].title == "Pushed with git"
    assert len(commits) == 2
    path = hf_hub_download(repo_id, "deep/er/notes.txt", endpoint=hub.url, token=False, cache_dir=tmp_path / "cache")
    assert Path(path).read_bytes() == b"notes\n"


def test_push_of_lfs_files(hub: Hub, git: Git, tmp_path: Path) -> None:
    repo_id = _repo(hub)
    work = _clone(hub, git, repo_id, tmp_path / "w")
    data = bytes(range(256)) * 50_000  # 12.8 MB: tracked by *.bin in the default .gitattributes
    (work / "model.bin").write_bytes(data)
    git.run("lfs", "track", "*.dat", cwd=work)
    (work / "data.dat").write_bytes(b"custom pattern\n" * 10)
    sha = git.commit_all(work, "weights")
    push = git.run("push", "origin", "main", cwd=work)
    assert "Locking support" not in push.stdout + push.stderr

    api = hub.api("alice")
    assert api.model_info(repo_id).sha == sha
    infos = {p.path: p for p in api.get_paths_info(repo_id, ["model.bin", "data.dat"])}
    assert infos["model.bin"].lfs is not None and infos["model.bin"].size == len(data)
    assert infos["data.dat"].lfs is not None
    cache = tmp_path / "cache"
    assert (
        Path(hf_hub_download(repo_id, "model.bin", endpoint=hub.url, token=False, cache_dir=cache)).read_bytes() == data
    )

    # A second clone gets the bytes through git-lfs (smudge) and `git lfs pull`.
    again = tmp_path / "again"
    git.run("clone", "-q", url(hub, repo_id), str(again), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    assert (again / "model.bin").read_bytes().startswith(b"version https://git-lfs")
    git.run("lfs", "pull", cwd=again)
    assert (again / "model.bin").read_bytes() == data
    assert (again / "data.dat").read_bytes() == b"custom pattern\n" * 10


def test_git_lfs_pull_of_files_uploaded_through_the_api(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub, owner="acme", private=True)
    data = b"\x07" * 11_000_000  # over the threshold: LFS by size, whatever its name
    hub.api("alice").upload_file(path_or_fileobj=data, path_in_repo="big.raw", repo_id=repo_id)
    dest = tmp_path / "c"
    git.run("clone", "-q", url(hub, repo_id, "carol", read_only=True), str(dest), env={"GIT_LFS_SKIP_SMUDGE": "1"})
    assert (dest / "big.raw").stat().st_size < 200
    git.run("lfs", "pull", cwd=dest)
    assert (dest / "big.raw").read_bytes() == data


def test_push_to_branches_needs_write_access(hub: Hub, git: Git, tmp_path: Path) -> None:
    """Those who may only contribute (anyone signed in, on a public repository) reach the push checks, which
    let them move pull requests' refs only (tests/discussions/test_git_push.py)."""
    repo_id = _repo(hub, owner="acme")
    work = _clone(hub, git, repo_id, tmp_path / "w", user="dave")
    (work / "a.txt").write_text("a")
    git.commit_all(work, "a")
    before = _refs(hub, repo_id)
    for user, read_only, expected in (
        ("carol", False, "refs/heads/main: needs write access"),  # an org reader
        ("bob", False, "refs/heads/main: needs write access"),  # a stranger to a public repo
        ("alice", True, "403"),  # the owner with a read token
        (None, False, "could not read Username"),  # anonymous: 401, and git has no credentials to give
    ):
        r = git.run("push", url(hub, repo_id, user, read_only), "main", cwd=work, check=False)
        assert r.returncode != 0 and expected in r.stderr, (user, r.stderr)
    assert _refs(hub, repo_id) == before
    git.run("push", "origin", "main", cwd=work)  # dave writes to acme


def test_private_repo_push_by_a_stranger_is_not_found(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    repo_id = _repo(sqlite_hub, private=True)
    work = _clone(sqlite_hub, git, repo_id, tmp_path / "w")
    r = git.run("push", url(sqlite_hub, repo_id, "bob"), "main", cwd=work, check=False)
    assert r.returncode != 0 and "not found" in r.stderr


def test_large_file_without_lfs_is_refused_with_advice(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub)
    work = _clone(hub, git, repo_id, tmp_path / "w")
    (work / "huge.raw").write_bytes(b"\x01" * 10_500_000)  # no .gitattributes rule matches *.raw
    (work / "fine.txt").write_text("fine")
    git.commit_all(work, "too big")
    before = _refs(hub, repo_id)
    r = git.run("push", "origin", "main", cwd=work, check=False)
    assert r.returncode != 0
    assert "huge.raw (10.5 MB)" in r.stderr
    assert 'git lfs track "huge.raw"' in r.stderr
    assert "pre-receive hook declined" in r.stderr
    assert _refs(hub, repo_id) == before

    # The same file through an intermediate commit that is later deleted is refused too: its blob would stay.
    (work / "huge.raw").unlink()
    git.commit_all(work, "remove it again")
    r = git.run("push", "origin", "main", cwd=work, check=False)
    assert r.returncode != 0 and "huge.raw" in r.stderr

    # Rewritten with LFS, it goes through.
    git.run("reset", "-q", "--hard", "origin/main", cwd=work)
    git.run("lfs", "track", "*.raw", cwd=work)
    (work / "huge.raw").write_bytes(b"\x01" * 10_500_000)
    sha = git.commit_all(work, "with lfs")
    git.run("push", "origin", "main", cwd=work)
    assert hub.api("alice").model_info(repo_id).sha == sha


def test_ref_rules(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub)
    work = _clone(hub, git, repo_id, tmp_path / "w")
    (work / "a.txt").write_text("a")
    first = git.commit_all(work, "a")
    git.run("push", "origin", "main", "HEAD:refs/heads/dev", "HEAD:refs/tags/v1", cwd=work)

    r = git.run("push", "origin", ":main", cwd=work, check=False)
    assert r.returncode != 0 and "default branch main cannot be deleted" in r.stderr
    r = git.run("push", "origin", "HEAD:refs/pr/1", cwd=work, check=False)
    assert r.returncode != 0 and "refs/pr/*" in r.stderr
    r = git.run("push", "origin", "HEAD:refs/notes/x", cwd=work, check=False)
    assert r.returncode != 0 and "only branches" in r.stderr
    assert _refs(hub, repo_id) == {"refs/heads/main": first, "refs/heads/dev": first, "refs/tags/v1": first}

    # Deleting another branch or a tag is fine; so is a force-push to main.
    git.run("push", "origin", ":dev", ":refs/tags/v1", cwd=work)
    git.run("reset", "-q", "--hard", "HEAD~1", cwd=work)
    (work / "b.txt").write_text("b")
    rewritten = git.commit_all(work, "rewritten")
    assert git.run("push", "origin", "main", cwd=work, check=False).returncode != 0  # not a fast-forward
    git.run("push", "--force", "origin", "main", cwd=work)
    assert _refs(hub, repo_id) == {"refs/heads/main": rewritten}
    assert hub.api("alice").model_info(repo_id).sha == rewritten
    assert [c.title for c in hub.api("alice").list_repo_commits(repo_id)] == ["rewritten", "initial commit"]


def test_bad_paths_and_submodules_are_refused(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    repo_id = _repo(sqlite_hub)
    work = _clone(sqlite_hub, git, repo_id, tmp_path / "w")
    blob = git.run("hash-object", "-w", "--stdin", cwd=work, input=b"x").stdout.strip()
    git.run("update-index", "--add", "--cacheinfo", f"100644,{blob},bad\x01name.txt", cwd=work)
    git.run("update-index", "--add", "--cacheinfo", f"160000,{'1' * 40},vendor/lib", cwd=work)
    git.run("commit", "-q", "-m", "odd entries", cwd=work)
    r = git.run("push", "origin", "main", cwd=work, check=False)
    assert r.returncode != 0
    assert "control characters are not allowed" in r.stderr
    assert "vendor/lib: submodules are not supported" in r.stderr


def test_lfs_pointer_to_an_object_never_uploaded_is_refused(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    repo_id = _repo(hub)
    other = _repo(hub)
    work = _clone(hub, git, repo_id, tmp_path / "w")
    # An object uploaded to another repository does not count: pointers name objects of this one.
    data = b"only in the other repository\n" * 100
    hub.api("alice").upload_file(path_or_fileobj=data, path_in_repo="x.bin", repo_id=other)
    oid = hub.api("alice").get_paths_info(other, ["x.bin"])[0].lfs.sha256
    pointer = f"version https://git-lfs.github.com/spec/v1\noid sha256:{oid}\nsize {len(data)}\n"
    (work / "stolen.txt").write_text(pointer)  # not an LFS path here: git-lfs will not upload anything
    (work / "forged.txt").write_text(pointer.replace(oid, "f" * 64))
    git.commit_all(work, "pointers")
    r = git.run("push", "origin", "main", cwd=work, check=False)
    assert r.returncode != 0
    assert f"stolen.txt (oid sha256:{oid})" in r.stderr and "forged.txt" in r.stderr
    assert "never uploaded" in r.stderr


def test_interleaved_api_commits_and_pushes(sqlite_hub: Hub, git: Git, tmp_path: Path) -> None:
    hub = sqlite_hub
    api = hub.api("alice")
    repo_id = _repo(hub)
    work = _clone(hub, git, repo_id, tmp_path / "w")
    for i in range(3):
        api.create_commit(repo_id, [CommitOperationAdd(f"api{i}.txt", b"%d" % i)], commit_message=f"api {i}")
        git.run("pull", "-q", "--ff-only", cwd=work)
        (work / f"git{i}.txt").write_text(str(i))
        sha = git.commit_all(work, f"git {i}")
        git.run("push", "-q", "origin", "main", cwd=work)
        assert api.model_info(repo_id).sha == sha
    titles = [c.title for c in api.list_repo_commits(repo_id)]
    assert titles == ["git 2", "api 2", "git 1", "api 1", "git 0", "api 0", "initial commit"]


@pytest.mark.parametrize("rounds", [6])
def test_concurrent_pushes_and_api_commits_lose_nothing(hub: Hub, git: Git, tmp_path: Path, rounds: int) -> None:
    """API commits and pushes race on main: every acknowledged commit is in the final history."""
    api = hub.api("alice")
    repo_id = _repo(hub)
    errors: list[BaseException] = []

    def api_writer() -> None:
        try:
            for i in range(rounds):
                api.create_commit(repo_id, [CommitOperationAdd(f"api/{i}.txt", b"%d" % i)], commit_message=f"api {i}")
        except BaseException as e:
            errors.append(e)

    def pusher(name: str) -> None:
        try:
            work = _clone(hub, git, repo_id, tmp_path / name)
            for i in range(rounds):
                (work / name).mkdir(exist_ok=True)
                (work / name / f"{i}.txt").write_text(str(i))
                git.commit_all(work, f"{name} {i}")
                for _ in range(50):  # rejected when main moved meanwhile: rebase and retry, as a user would
                    if git.run("push", "-q", "origin", "main", cwd=work, check=False).returncode == 0:
                        break
                    git.run("pull", "-q", "--rebase", cwd=work)
                else:
                    raise AssertionError("push never went through")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=api_writer), *(threading.Thread(target=pusher, args=(n,)) for n in ("p", "q"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    files = set(api.list_repo_files(repo_id))
    for prefix in ("api", "p", "q"):
        assert {f"{prefix}/{i}.txt" for i in range(rounds)} <= files, prefix
    head = api.list_repo_refs(repo_id).branches[0].target_commit
    assert api.model_info(repo_id).sha == head
    titles = {c.title for c in api.list_repo_commits(repo_id)}
    assert {f"{p} {i}" for p in ("api", "p", "q") for i in range(rounds)} <= titles


@pytest.mark.parametrize("repo_type", ["dataset", "space"])
def test_push_to_datasets_and_spaces(sqlite_hub: Hub, git: Git, tmp_path: Path, repo_type: str) -> None:
    hub = sqlite_hub
    api = hub.api("alice")
    repo_id = f"alice/{unique()}"
    api.create_repo(repo_id, repo_type=repo_type, space_sdk="static" if repo_type == "space" else None)
    work = tmp_path / "w"
    git.run("clone", "-q", url(hub, f"{repo_type}s/{repo_id}.git", "alice"), str(work))
    (work / "data.csv").write_text("a,b\n1,2\n")
    (work / "image.png").write_bytes(b"\x89PNG" + bytes(5000))  # LFS in datasets' default .gitattributes
    sha = git.commit_all(work, "data")
    git.run("push", "origin", "main", cwd=work)
    assert api.repo_info(repo_id, repo_type=repo_type).sha == sha
    cache = tmp_path / "cache"
    path = hf_hub_download(repo_id, "data.csv", repo_type=repo_type, endpoint=hub.url, token=False, cache_dir=cache)
    assert Path(path).read_text() == "a,b\n1,2\n"
    png = api.get_paths_info(repo_id, ["image.png"], repo_type=repo_type)[0]
    assert (png.lfs is not None) is (repo_type == "dataset")
