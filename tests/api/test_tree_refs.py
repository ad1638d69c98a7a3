"""Browsing git data: tree, paths-info, refs, commit history, branches, tags, super-squash (protocol §8)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError, RemoteEntryNotFoundError, RevisionNotFoundError
from huggingface_hub.hf_api import RepoFile, RepoFolder
from huggingface_hub.utils._pagination import paginate

from tests.api.conftest import BIG_SIZE, Populated, git_blob_sha1
from tests.conftest import Hub

# --- list_repo_tree ------------------------------------------------------------------------------


def test_tree_root_lists_top_level_files_and_folders(hub: Hub, populated: Populated) -> None:
    entries = {e.path: e for e in hub.api(None).list_repo_tree(populated.repo_id)}
    assert set(entries) == {
        ".gitattributes",
        "README.md",
        "config.json",
        "notes.txt",
        "weights.safetensors",
        "sub",
        "dir one",
        "blobs",
    }
    assert isinstance(entries["sub"], RepoFolder)
    assert isinstance(entries["config.json"], RepoFile)


def test_tree_recursive_lists_all_descendants_with_sizes_and_lfs(hub: Hub, populated: Populated) -> None:
    entries = {e.path: e for e in hub.api(None).list_repo_tree(populated.repo_id, recursive=True)}
    folders = {p for p, e in entries.items() if isinstance(e, RepoFolder)}
    files = {p for p, e in entries.items() if isinstance(e, RepoFile)}
    assert folders == {"sub", "sub/dir", "dir one", "blobs"}
    assert files == {*populated.files, ".gitattributes"}
    config = entries["config.json"]
    assert config.size == len(populated.files["config.json"])
    assert config.blob_id == git_blob_sha1(populated.files["config.json"])
    assert config.lfs is None
    big = entries["blobs/big.dat"]
    assert big.size == BIG_SIZE
    assert big.lfs is not None
    assert big.lfs.sha256 == hashlib.sha256(populated.big).hexdigest()
    assert big.lfs.size == BIG_SIZE and big.lfs.pointer_size > 0
    assert big.blob_id != big.lfs.sha256


def test_tree_of_a_subfolder_and_at_a_revision(hub: Hub, populated: Populated) -> None:
    api = hub.api(None)
    sub = sorted(e.path for e in api.list_repo_tree(populated.repo_id, path_in_repo="sub"))
    assert sub == ["sub/b.txt", "sub/dir"]
    spaced = [e.path for e in api.list_repo_tree(populated.repo_id, path_in_repo="dir one")]
    assert spaced == ["dir one/b file.txt"]
    at_tag = {e.path for e in api.list_repo_tree(populated.repo_id, revision="v1")}
    assert "notes.txt" not in at_tag and "config.json" in at_tag
    on_branch = {e.path for e in api.list_repo_tree(populated.repo_id, revision=populated.branch)}
    assert "only-on-branch.txt" in on_branch
    nested = [e.path for e in api.list_repo_tree(populated.repo_id, path_in_repo="sub/dir")]
    assert nested == ["sub/dir/a.txt"]
    deep = sorted(e.path for e in api.list_repo_tree(populated.repo_id, path_in_repo="sub", recursive=True))
    assert deep == ["sub/b.txt", "sub/dir", "sub/dir/a.txt"]


def test_tree_of_missing_path_is_entry_not_found(hub: Hub, populated: Populated) -> None:
    with pytest.raises(RemoteEntryNotFoundError):
        list(hub.api(None).list_repo_tree(populated.repo_id, path_in_repo="no/such/dir"))
    with pytest.raises(RevisionNotFoundError):
        list(hub.api(None).list_repo_tree(populated.repo_id, revision="no-such-rev"))


def test_tree_expand_gives_last_commit_and_security_status(hub: Hub, populated: Populated) -> None:
    entries = {e.path: e for e in hub.api(None).list_repo_tree(populated.repo_id, recursive=True, expand=True)}
    notes, config = entries["notes.txt"], entries["config.json"]
    assert notes.last_commit is not None and notes.last_commit.oid == populated.head
    assert notes.last_commit.title == "Add notes"
    assert config.last_commit.oid == populated.first
    assert config.last_commit.title == "Add the model"
    assert abs(datetime.now(UTC) - config.last_commit.date) < timedelta(hours=1)
    assert entries["sub"].last_commit.oid == populated.first
    assert config.security is not None


def test_list_repo_files(hub: Hub, populated: Populated) -> None:
    files = hub.api(None).list_repo_files(populated.repo_id)
    assert sorted(files) == sorted([*populated.files, ".gitattributes"])


def test_tree_pagination(hub: Hub, repo_id: str) -> None:
    """Expanded listings come 50 entries a page; the client follows the Link header to get them all."""
    api = hub.api("alice")
    paths = [f"many/f{i:03d}.txt" for i in range(60)]
    api.create_commit(repo_id, [CommitOperationAdd(p, p.encode()) for p in paths], commit_message="many")
    r = httpx.get(f"{hub.url}/api/models/{repo_id}/tree/main/many", params={"expand": "true"})
    assert len(r.json()) == 50
    assert r.links["next"]["url"].startswith(f"{hub.url}/api/models/{repo_id}/tree/main/many?")
    expanded = list(api.list_repo_tree(repo_id, path_in_repo="many", expand=True))
    assert sorted(e.path for e in expanded) == paths
    assert all(e.last_commit is not None for e in expanded)
    seen, url, params = [], f"{hub.url}/api/models/{repo_id}/tree/main", {"recursive": "true", "limit": "7"}
    r = httpx.get(url, params=params)
    pages = 1
    while True:
        seen += [e["path"] for e in r.json()]
        if "next" not in r.links:
            break
        r = httpx.get(r.links["next"]["url"])
        pages += 1
    assert pages == 9  # .gitattributes + many/ + 60 files = 62 entries, 7 a page
    assert len(seen) == len(set(seen)) == 62


# --- get_paths_info -------------------------------------------------------------------------------


def test_paths_info_omits_missing_paths(hub: Hub, populated: Populated) -> None:
    infos = hub.api(None).get_paths_info(
        populated.repo_id, ["config.json", "missing.txt", "sub", "blobs/big.dat", "sub/nope"]
    )
    by_path = {i.path: i for i in infos}
    assert set(by_path) == {"config.json", "sub", "blobs/big.dat"}
    assert isinstance(by_path["sub"], RepoFolder)
    assert by_path["config.json"].blob_id == git_blob_sha1(populated.files["config.json"])
    assert by_path["blobs/big.dat"].lfs.sha256 == hashlib.sha256(populated.big).hexdigest()
    assert by_path["config.json"].last_commit is None


def test_paths_info_expand_and_revision(hub: Hub, populated: Populated) -> None:
    api = hub.api(None)
    infos = api.get_paths_info(populated.repo_id, ["notes.txt", "config.json"], expand=True)
    commits = {i.path: i.last_commit.oid for i in infos}
    assert commits == {"notes.txt": populated.head, "config.json": populated.first}
    assert api.get_paths_info(populated.repo_id, ["notes.txt"], revision="v1") == []
    assert [i.path for i in api.get_paths_info(populated.repo_id, "only-on-branch.txt", revision=populated.branch)] == [
        "only-on-branch.txt"
    ]


# --- refs -----------------------------------------------------------------------------------------


def test_list_repo_refs(hub: Hub, populated: Populated) -> None:
    refs = hub.api(None).list_repo_refs(populated.repo_id)
    branches = {b.name: b for b in refs.branches}
    assert set(branches) == {"main", populated.branch}
    assert branches["main"].ref == "refs/heads/main"
    assert branches["main"].target_commit == populated.head
    assert branches[populated.branch].ref == f"refs/heads/{populated.branch}"
    assert branches[populated.branch].target_commit == populated.branch_commit
    assert [(t.name, t.ref, t.target_commit) for t in refs.tags] == [("v1", "refs/tags/v1", populated.first)]
    assert refs.converts == []
    assert refs.pull_requests is None
    with_prs = hub.api(None).list_repo_refs(populated.repo_id, include_pull_requests=True)
    assert with_prs.pull_requests == []


# --- commits --------------------------------------------------------------------------------------


def test_list_repo_commits_newest_first(hub: Hub, populated: Populated) -> None:
    commits = hub.api(None).list_repo_commits(populated.repo_id)
    assert [c.commit_id for c in commits[:2]] == [populated.head, populated.first]
    assert len(commits) == 3  # + the initial commit
    assert [c.title for c in commits] == ["Add notes", "Add the model", "initial commit"]
    assert all(c.authors == ["alice"] for c in commits)
    dates = [c.created_at for c in commits]
    assert dates == sorted(dates, reverse=True)
    assert all(abs(datetime.now(UTC) - d) < timedelta(hours=1) for d in dates)


def test_list_repo_commits_at_revision_and_formatted(hub: Hub, populated: Populated) -> None:
    api = hub.api(None)
    at_tag = api.list_repo_commits(populated.repo_id, revision="v1")
    assert at_tag[0].commit_id == populated.first and len(at_tag) == 2
    on_branch = api.list_repo_commits(populated.repo_id, revision=populated.branch)
    assert [c.commit_id for c in on_branch[:2]] == [populated.branch_commit, populated.head]
    formatted = api.list_repo_commits(populated.repo_id, formatted=True)
    assert formatted[0].formatted_title is not None and "Add notes" in formatted[0].formatted_title
    with pytest.raises(RevisionNotFoundError):
        api.list_repo_commits(populated.repo_id, revision="no-such-rev")


def test_list_repo_commits_link_pagination(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    for i in range(5):
        api.create_commit(repo_id, [CommitOperationAdd(f"f{i}.txt", b"x")], commit_message=f"commit {i}")
    expected = [c.commit_id for c in api.list_repo_commits(repo_id)]
    assert len(expected) == 6
    url = f"{hub.url}/api/models/{repo_id}/commits/main"
    r = httpx.get(url, params={"limit": 2})
    seen, pages = [], 0
    while True:
        assert r.status_code == 200
        page = r.json()
        assert len(page) <= 2
        assert all({"id", "authors", "date", "title", "message"} <= set(c) for c in page)
        seen += [c["id"] for c in page]
        pages += 1
        if "next" not in r.links:
            break
        nxt = r.links["next"]["url"]
        assert nxt.startswith(f"{url}?") and "limit=2" in nxt
        r = httpx.get(nxt)
    assert pages == 3
    assert seen == expected
    assert [c["id"] for c in paginate(url, params={"limit": 4}, headers={})] == expected


# --- branches and tags ----------------------------------------------------------------------------


def test_create_and_delete_branch(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    first = api.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a")], commit_message="a").oid
    api.create_commit(repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="b")
    api.create_branch(repo_id, branch="from-first", revision=first)
    api.create_branch(repo_id, branch="nested/name")
    branches = {b.name: b.target_commit for b in api.list_repo_refs(repo_id).branches}
    assert branches["from-first"] == first
    assert branches["nested/name"] == branches["main"]
    api.delete_branch(repo_id, branch="nested/name")
    assert "nested/name" not in {b.name for b in api.list_repo_refs(repo_id).branches}
    assert not api.revision_exists(repo_id, "nested/name")


def test_duplicate_branch_is_409_unless_exist_ok(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_branch(repo_id, branch="dev")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_branch(repo_id, branch="dev")
    assert e.value.response.status_code == 409
    api.create_branch(repo_id, branch="dev", exist_ok=True)


def test_branch_errors(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    with pytest.raises(RevisionNotFoundError):
        api.create_branch(repo_id, branch="x", revision="no-such-rev")
    with pytest.raises(RevisionNotFoundError):
        api.delete_branch(repo_id, branch="no-such-branch")
    with pytest.raises(HfHubHTTPError) as e:
        api.delete_branch(repo_id, branch="main")
    assert e.value.response.status_code in (400, 403)
    assert api.revision_exists(repo_id, "main")
    with pytest.raises(HfHubHTTPError) as e:
        hub.api("bob").create_branch(repo_id, branch="intruder")
    assert e.value.response.status_code == 403


def test_create_and_delete_tag(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    first = api.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a")], commit_message="a").oid
    api.create_commit(repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="b")
    api.create_tag(repo_id, tag="v0.1", revision=first, tag_message="first release")
    api.create_tag(repo_id, tag="latest")
    tags = {t.name: t.target_commit for t in api.list_repo_refs(repo_id).tags}
    assert tags == {"v0.1": first, "latest": api.model_info(repo_id).sha}
    assert api.model_info(repo_id, revision="v0.1").sha == first
    api.delete_tag(repo_id, tag="v0.1")
    assert {t.name for t in api.list_repo_refs(repo_id).tags} == {"latest"}
    with pytest.raises(RevisionNotFoundError):
        api.delete_tag(repo_id, tag="v0.1")


def test_tag_and_branch_names_with_slashes(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_branch(repo_id, branch="rel/1.x")
    head = api.create_commit(repo_id, [CommitOperationAdd("r.txt", b"r")], commit_message="r", revision="rel/1.x").oid
    api.create_tag(repo_id, tag="release/1.0", revision="rel/1.x")
    tags = {t.name: (t.ref, t.target_commit) for t in api.list_repo_refs(repo_id).tags}
    assert tags == {"release/1.0": ("refs/tags/release/1.0", head)}
    assert api.model_info(repo_id, revision="release/1.0").sha == head
    api.delete_tag(repo_id, tag="release/1.0")
    api.delete_branch(repo_id, branch="rel/1.x")
    refs = api.list_repo_refs(repo_id)
    assert refs.tags == [] and [b.name for b in refs.branches] == ["main"]


def test_invalid_branch_names_are_refused(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    for name in ("a..b", "refs/heads/x", "ends.lock", "with space"):
        with pytest.raises(HfHubHTTPError) as e:
            api.create_branch(repo_id, branch=name)
        assert e.value.response.status_code == 400, name
    assert [b.name for b in api.list_repo_refs(repo_id).branches] == ["main"]


def test_duplicate_tag_is_409_unless_exist_ok(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_tag(repo_id, tag="v1")
    with pytest.raises(HfHubHTTPError) as e:
        api.create_tag(repo_id, tag="v1")
    assert e.value.response.status_code == 409
    api.create_tag(repo_id, tag="v1", exist_ok=True)


# --- super-squash ---------------------------------------------------------------------------------


def test_super_squash_history_keeps_files_and_leaves_one_commit(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    for i in range(3):
        api.create_commit(repo_id, [CommitOperationAdd(f"f{i}.txt", str(i).encode())], commit_message=f"c{i}")
    before = sorted(api.list_repo_files(repo_id))
    api.super_squash_history(repo_id, commit_message="Squashed")
    commits = api.list_repo_commits(repo_id)
    assert len(commits) == 1
    assert commits[0].title == "Squashed"
    assert api.model_info(repo_id).sha == commits[0].commit_id
    assert sorted(api.list_repo_files(repo_id)) == before


def test_super_squash_a_branch_leaves_main_alone(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a")], commit_message="a")
    api.create_branch(repo_id, branch="side")
    api.create_commit(repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="b", revision="side")
    main_before = api.model_info(repo_id).sha
    api.super_squash_history(repo_id, branch="side")
    assert len(api.list_repo_commits(repo_id, revision="side")) == 1
    assert api.model_info(repo_id).sha == main_before
    assert sorted(api.list_repo_files(repo_id, revision="side")) == [".gitattributes", "a.txt", "b.txt"]
