"""Uploads: upload_folder (inline and LFS), create_commit operations, parent_commit, deletes (protocol §6)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import httpx
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    CommitOperationCopy,
    CommitOperationDelete,
    hf_hub_download,
)
from huggingface_hub.errors import (
    BadRequestError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RevisionNotFoundError,
)

from tests.api.conftest import git_blob_sha1
from tests.conftest import Hub

BIG = 10 * 1024 * 1024 + 4096  # just above the LFS threshold


def _files(api, repo_id: str, revision: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    """path -> RepoFile for every file at `revision`."""
    return {
        e.path: e
        for e in api.list_repo_tree(repo_id, recursive=True, revision=revision)
        if e.__class__.__name__ == "RepoFile"
    }


def _read(hub: Hub, repo_id: str, path: str, cache_dir: Path, revision: str | None = None) -> bytes:
    local = hf_hub_download(repo_id, path, revision=revision, endpoint=hub.url, cache_dir=cache_dir, token=False)
    return Path(local).read_bytes()


def test_upload_folder_sends_small_files_inline_and_large_ones_through_lfs(
    hub: Hub, repo_id: str, tmp_path: Path, cache_dir: Path
) -> None:
    folder = tmp_path / "model"
    (folder / "nested").mkdir(parents=True)
    (folder / "config.json").write_text('{"a": 1}')
    (folder / "nested" / "vocab.txt").write_text("hello\nworld\n")
    big = os.urandom(BIG)
    (folder / "nested" / "big.raw").write_bytes(big)
    info = hub.api("alice").upload_folder(repo_id=repo_id, folder_path=folder, commit_message="Upload model")
    assert info.commit_url == f"{hub.url}/{repo_id}/commit/{info.oid}"
    files = _files(hub.api("alice"), repo_id)
    assert set(files) == {".gitattributes", "config.json", "nested/vocab.txt", "nested/big.raw"}
    assert files["config.json"].lfs is None
    assert files["config.json"].blob_id == git_blob_sha1(b'{"a": 1}')
    assert files["nested/big.raw"].lfs is not None
    assert files["nested/big.raw"].lfs.sha256 == hashlib.sha256(big).hexdigest()
    assert files["nested/big.raw"].size == BIG
    assert _read(hub, repo_id, "nested/big.raw", cache_dir) == big
    assert hub.api("alice").model_info(repo_id).used_storage >= BIG
    assert _read(hub, repo_id, "nested/vocab.txt", cache_dir) == b"hello\nworld\n"


def test_upload_folder_with_path_in_repo_and_patterns(hub: Hub, repo_id: str, tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "b.log").write_text("b")
    hub.api("alice").upload_folder(
        repo_id=repo_id, folder_path=tmp_path, path_in_repo="sub/dir", allow_patterns=["*.txt"]
    )
    assert set(_files(hub.api("alice"), repo_id)) == {".gitattributes", "sub/dir/a.txt"}


def test_files_matching_gitattributes_go_through_lfs_even_when_small(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_commit(repo_id, [CommitOperationAdd("tiny.safetensors", b"\x00" * 100)], commit_message="tiny")
    entry = _files(api, repo_id)["tiny.safetensors"]
    assert entry.lfs is not None and entry.lfs.size == 100


def test_gitattributes_in_the_same_commit_decides_lfs(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    attrs = b"*.txt filter=lfs diff=lfs merge=lfs -text\n"
    api.create_commit(
        repo_id,
        [CommitOperationAdd(".gitattributes", attrs), CommitOperationAdd("notes.txt", b"now stored in LFS")],
        commit_message="attrs",
    )
    assert _files(api, repo_id)["notes.txt"].lfs is not None
    api.create_commit(repo_id, [CommitOperationAdd("later.txt", b"also LFS")], commit_message="later")
    later = _files(api, repo_id)["later.txt"]
    assert later.lfs is not None and later.lfs.sha256 == hashlib.sha256(b"also LFS").hexdigest()
    assert _read(hub, repo_id, "notes.txt", cache_dir) == b"now stored in LFS"
    assert _read(hub, repo_id, "later.txt", cache_dir) == b"also LFS"


def test_unchanged_files_make_no_new_commit(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    ops = [CommitOperationAdd("same.txt", b"same"), CommitOperationAdd("w.safetensors", b"\x01" * 64)]
    first = api.create_commit(repo_id, ops, commit_message="one")
    again = api.create_commit(
        repo_id,
        [CommitOperationAdd("same.txt", b"same"), CommitOperationAdd("w.safetensors", b"\x01" * 64)],
        commit_message="two",
    )
    assert again.oid == first.oid
    assert len(api.list_repo_commits(repo_id)) == 2  # initial commit + "one"


def test_commits_move_last_modified_but_likes_do_not(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    created = api.model_info(repo_id)
    api.create_commit(repo_id, [CommitOperationAdd("x.txt", b"x")], commit_message="x")
    after_commit = api.model_info(repo_id)
    assert after_commit.last_modified > created.last_modified
    assert after_commit.created_at == created.created_at
    bob = {"authorization": f"Bearer {hub.tokens['bob']}"}
    assert httpx.post(f"{hub.url}/api/models/{repo_id}/like", headers=bob).status_code == 200
    assert api.model_info(repo_id).last_modified == after_commit.last_modified


def test_commit_title_and_description_are_recorded(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    info = api.create_commit(
        repo_id,
        [CommitOperationAdd("x.txt", b"x")],
        commit_message="Add x",
        commit_description="Longer explanation\nover two lines",
    )
    latest = api.list_repo_commits(repo_id)[0]
    assert latest.commit_id == info.oid
    assert latest.title == "Add x"
    assert latest.message == "Longer explanation\nover two lines"
    assert latest.authors == ["alice"]


def test_delete_file_and_folder_operations(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_commit(
        repo_id,
        [CommitOperationAdd(p, p.encode()) for p in ("keep.txt", "gone.txt", "dir/a.txt", "dir/sub/b.txt", "dirx.txt")],
        commit_message="setup",
    )
    api.create_commit(
        repo_id,
        [CommitOperationDelete("gone.txt"), CommitOperationDelete("dir/")],
        commit_message="delete",
    )
    assert set(_files(api, repo_id)) == {".gitattributes", "keep.txt", "dirx.txt"}


def test_delete_and_add_same_path_in_one_commit(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    api.create_commit(repo_id, [CommitOperationAdd("f.txt", b"old")], commit_message="old")
    api.create_commit(
        repo_id, [CommitOperationDelete("f.txt"), CommitOperationAdd("f.txt", b"new")], commit_message="replace"
    )
    assert _read(hub, repo_id, "f.txt", cache_dir) == b"new"


def test_delete_file_and_delete_folder_helpers(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_commit(
        repo_id,
        [CommitOperationAdd(p, b"x") for p in ("a.txt", "folder/one.txt", "folder/deep/two.txt")],
        commit_message="setup",
    )
    api.delete_file("a.txt", repo_id)
    api.delete_folder("folder", repo_id)
    assert set(_files(api, repo_id)) == {".gitattributes"}


def test_deleting_missing_file_or_folder_is_entry_not_found(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    head = api.model_info(repo_id).sha
    with pytest.raises(RemoteEntryNotFoundError) as e:
        api.delete_file("nope.txt", repo_id)
    assert "A file with this name doesn't exist" in str(e.value)
    with pytest.raises(RemoteEntryNotFoundError):
        api.delete_folder("nope", repo_id)
    assert api.model_info(repo_id).sha == head


def test_copy_regular_and_lfs_files(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    big = os.urandom(BIG)
    api.create_commit(
        repo_id,
        [CommitOperationAdd("src/config.json", b'{"x": 1}'), CommitOperationAdd("src/big.raw", big)],
        commit_message="sources",
    )
    api.create_commit(
        repo_id,
        [
            CommitOperationCopy("src/config.json", "copy/config.json"),
            CommitOperationCopy("src/big.raw", "copy/big.raw"),
        ],
        commit_message="copies",
    )
    files = _files(api, repo_id)
    assert files["copy/config.json"].blob_id == files["src/config.json"].blob_id
    assert files["copy/big.raw"].lfs is not None
    assert files["copy/big.raw"].lfs.sha256 == files["src/big.raw"].lfs.sha256
    assert files["copy/big.raw"].size == BIG
    assert _read(hub, repo_id, "copy/config.json", cache_dir) == b'{"x": 1}'
    assert _read(hub, repo_id, "copy/big.raw", cache_dir) == big


def test_copy_from_older_revision(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    old = api.create_commit(repo_id, [CommitOperationAdd("v.txt", b"v1")], commit_message="v1").oid
    api.create_commit(repo_id, [CommitOperationAdd("v.txt", b"v2")], commit_message="v2")
    api.create_commit(repo_id, [CommitOperationCopy("v.txt", "v-old.txt", src_revision=old)], commit_message="c")
    assert _read(hub, repo_id, "v-old.txt", cache_dir) == b"v1"


def test_lfs_file_referencing_unknown_object_is_refused(hub: Hub, repo_id: str) -> None:
    """An lfsFile line may only name objects uploaded to (or already in) this repository."""
    body = (
        '{"key": "header", "value": {"summary": "sneaky"}}\n'
        '{"key": "lfsFile", "value": {"path": "x.bin", "algo": "sha256", "oid": "' + "ab" * 32 + '", "size": 5}}\n'
    )
    r = httpx.post(
        f"{hub.url}/api/models/{repo_id}/commit/main",
        content=body,
        headers={"authorization": f"Bearer {hub.tokens['alice']}", "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 400


def test_parent_commit_must_be_the_branch_head(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    stale = api.model_info(repo_id).sha
    head = api.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a")], commit_message="a").oid
    with pytest.raises(HfHubHTTPError) as e:
        api.create_commit(repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="b", parent_commit=stale)
    assert e.value.response.status_code == 412
    assert api.model_info(repo_id).sha == head
    new = api.create_commit(repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="b", parent_commit=head)
    assert api.list_repo_commits(repo_id)[0].commit_id == new.oid
    short = api.create_commit(
        repo_id, [CommitOperationAdd("c.txt", b"c")], commit_message="c", parent_commit=new.oid[:7]
    )
    assert api.model_info(repo_id).sha == short.oid


def test_delete_file_with_stale_parent_commit_is_412(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    stale = api.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a")], commit_message="a").oid
    api.create_commit(repo_id, [CommitOperationAdd("b.txt", b"b")], commit_message="b")
    with pytest.raises(HfHubHTTPError) as e:
        api.delete_file("a.txt", repo_id, parent_commit=stale)
    assert e.value.response.status_code == 412


def test_commit_to_branch_with_slash(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    api.create_branch(repo_id, branch="team/exp-1")
    info = api.create_commit(
        repo_id, [CommitOperationAdd("exp.txt", b"experiment")], commit_message="exp", revision="team/exp-1"
    )
    refs = {b.name: b.target_commit for b in api.list_repo_refs(repo_id).branches}
    assert refs["team/exp-1"] == info.oid
    assert refs["main"] != info.oid
    assert _read(hub, repo_id, "exp.txt", cache_dir, revision="team/exp-1") == b"experiment"
    assert not api.file_exists(repo_id, "exp.txt")
    weights = os.urandom(300)  # LFS by extension: exercises preupload and the LFS batch with the branch ref
    api.upload_file(path_or_fileobj=weights, path_in_repo="w.safetensors", repo_id=repo_id, revision="team/exp-1")
    assert _files(api, repo_id, revision="team/exp-1")["w.safetensors"].lfs is not None
    assert _read(hub, repo_id, "w.safetensors", cache_dir, revision="team/exp-1") == weights


def test_commit_to_missing_branch_is_revision_not_found(hub: Hub, repo_id: str) -> None:
    with pytest.raises(RevisionNotFoundError):
        hub.api("alice").create_commit(
            repo_id, [CommitOperationAdd("a.txt", b"a")], commit_message="a", revision="no-such-branch"
        )


def test_commit_to_a_tag_is_refused(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_tag(repo_id, tag="v1")
    with pytest.raises(BadRequestError):  # commits go to branches
        api.create_commit(repo_id, [CommitOperationAdd("a.txt", b"a")], commit_message="a", revision="refs/tags/v1")
    assert [t.name for t in api.list_repo_refs(repo_id).tags] == ["v1"]


def test_file_cannot_replace_folder_or_live_inside_file(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_commit(repo_id, [CommitOperationAdd("d/x.txt", b"x")], commit_message="d")
    with pytest.raises(BadRequestError):
        api.create_commit(repo_id, [CommitOperationAdd("d", b"file over folder")], commit_message="bad")
    with pytest.raises(BadRequestError):
        api.create_commit(repo_id, [CommitOperationAdd("d/x.txt/y", b"inside a file")], commit_message="bad")


def test_upload_to_dataset_repo(hub: Hub, cache_dir: Path) -> None:
    api = hub.api("alice")
    repo_id = api.create_repo(f"ds{os.urandom(4).hex()}", repo_type="dataset").repo_id
    info = api.upload_file(
        path_or_fileobj=b"a,b\n1,2\n", path_in_repo="data/train.csv", repo_id=repo_id, repo_type="dataset"
    )
    assert info.commit_url == f"{hub.url}/datasets/{repo_id}/commit/{info.oid}"
    local = hf_hub_download(
        repo_id, "data/train.csv", repo_type="dataset", endpoint=hub.url, cache_dir=cache_dir, token=False
    )
    assert Path(local).read_bytes() == b"a,b\n1,2\n"


def test_same_lfs_content_uploaded_to_two_repos(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    other = api.create_repo(f"r{os.urandom(5).hex()}").repo_id
    data = os.urandom(BIG)
    for target in (repo_id, other):
        api.upload_file(path_or_fileobj=data, path_in_repo="same.raw", repo_id=target)
    for target in (repo_id, other):
        assert _files(api, target)["same.raw"].lfs.sha256 == hashlib.sha256(data).hexdigest()
        local = hf_hub_download(target, "same.raw", endpoint=hub.url, cache_dir=cache_dir, token=False)
        assert Path(local).read_bytes() == data


def test_lfs_objects_of_another_repo_cannot_be_referenced_without_uploading(hub: Hub, repo_id: str) -> None:
    """Knowing a sha256 that lives in someone else's repository must not let you commit it."""
    bob = hub.api("bob")
    bob_repo = bob.create_repo(f"r{os.urandom(5).hex()}").repo_id
    secret = os.urandom(1000)
    hub.api("alice").upload_file(path_or_fileobj=secret, path_in_repo="secret.bin", repo_id=repo_id)
    oid = hashlib.sha256(secret).hexdigest()
    body = (
        '{"key": "header", "value": {"summary": "steal"}}\n'
        '{"key": "lfsFile", "value": {"path": "stolen.bin", "algo": "sha256", "oid": "' + oid + '"}}\n'
    )
    r = httpx.post(
        f"{hub.url}/api/models/{bob_repo}/commit/main",
        content=body,
        headers={"authorization": f"Bearer {hub.tokens['bob']}", "content-type": "application/x-ndjson"},
    )
    assert r.status_code == 400
    assert "stolen.bin" not in bob.list_repo_files(bob_repo)
