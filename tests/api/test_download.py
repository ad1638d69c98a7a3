"""Downloads: hf_hub_download at every kind of revision, snapshot_download, HEAD metadata, Range (protocol §7)."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import httpx
import pytest
from huggingface_hub import (
    CommitOperationAdd,
    get_hf_file_metadata,
    hf_hub_download,
    hf_hub_url,
    snapshot_download,
)
from huggingface_hub.errors import RemoteEntryNotFoundError, RepositoryNotFoundError, RevisionNotFoundError

from tests.api.conftest import BIG_SIZE, Populated, git_blob_sha1
from tests.conftest import Hub
from tests.support import wait_for


def download(hub: Hub, p: Populated, path: str, cache_dir: Path, revision: str | None = None) -> bytes:
    local = hf_hub_download(p.repo_id, path, revision=revision, endpoint=hub.url, cache_dir=cache_dir, token=False)
    return Path(local).read_bytes()


def resolve_url(hub: Hub, p: Populated, path: str, revision: str = "main") -> str:
    return hf_hub_url(p.repo_id, path, revision=revision, endpoint=hub.url)


# --- hf_hub_download ------------------------------------------------------------------------------


def test_download_from_main_by_default(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    assert download(hub, populated, "config.json", cache_dir) == populated.files["config.json"]
    snapshot = cache_dir / f"models--alice--{populated.repo_id.split('/')[1]}" / "snapshots" / populated.head
    assert (snapshot / "config.json").exists()


def test_download_by_tag(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    assert download(hub, populated, "sub/b.txt", cache_dir, revision="v1") == b"bravo\n"
    with pytest.raises(RemoteEntryNotFoundError):
        download(hub, populated, "notes.txt", cache_dir, revision="v1")  # added after the tag


def test_download_by_full_and_short_commit_id(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    assert download(hub, populated, "sub/dir/a.txt", cache_dir, revision=populated.first) == b"alpha\n"
    short = populated.head[:7]
    local = hf_hub_download(
        populated.repo_id, "notes.txt", revision=short, endpoint=hub.url, cache_dir=cache_dir, token=False
    )
    assert Path(local).read_bytes() == populated.files["notes.txt"]
    assert Path(local).parent.name == populated.head  # the short id was resolved to the full commit


def test_download_from_branch_with_slash(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    data = download(hub, populated, "only-on-branch.txt", cache_dir, revision=populated.branch)
    assert data == populated.branch_files["only-on-branch.txt"]
    ref = cache_dir / f"models--alice--{populated.repo_id.split('/')[1]}" / "refs" / "feature" / "x"
    assert ref.read_text() == populated.branch_commit


def test_download_path_with_spaces(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    assert download(hub, populated, "dir one/b file.txt", cache_dir) == populated.files["dir one/b file.txt"]


def test_download_lfs_files(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    assert download(hub, populated, "weights.safetensors", cache_dir) == populated.files["weights.safetensors"]
    big = download(hub, populated, "blobs/big.dat", cache_dir)
    assert len(big) == BIG_SIZE and big == populated.big
    blob_dir = cache_dir / f"models--alice--{populated.repo_id.split('/')[1]}" / "blobs"
    assert (blob_dir / hashlib.sha256(populated.big).hexdigest()).exists()  # cached under its sha256 etag


def test_download_errors_are_typed(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    with pytest.raises(RemoteEntryNotFoundError):
        download(hub, populated, "missing.txt", cache_dir)
    with pytest.raises(RevisionNotFoundError):
        download(hub, populated, "config.json", cache_dir, revision="no-such-branch")
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download("alice/does-not-exist-xyz", "config.json", endpoint=hub.url, cache_dir=cache_dir, token=False)


def test_missing_file_is_cached_as_absent_for_its_commit(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    """EntryNotFound carries X-Repo-Commit, so the client can record the absence under that commit."""
    with pytest.raises(RemoteEntryNotFoundError):
        download(hub, populated, "nothing/here.txt", cache_dir)
    marker = (
        cache_dir
        / f"models--alice--{populated.repo_id.split('/')[1]}"
        / ".no_exist"
        / populated.head
        / "nothing/here.txt"
    )
    assert marker.exists()


def test_private_repo_download_needs_a_token(hub: Hub, cache_dir: Path) -> None:
    api = hub.api("alice")
    repo_id = api.create_repo(f"priv{time.time_ns()}", private=True).repo_id
    api.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=repo_id)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "s.txt", endpoint=hub.url, cache_dir=cache_dir, token=False)
    with pytest.raises(RepositoryNotFoundError):
        hf_hub_download(repo_id, "s.txt", endpoint=hub.url, cache_dir=cache_dir, token=hub.tokens["bob"])
    local = hf_hub_download(repo_id, "s.txt", endpoint=hub.url, cache_dir=cache_dir, token=hub.tokens["alice"])
    assert Path(local).read_bytes() == b"secret"


# --- snapshot_download ----------------------------------------------------------------------------


def test_snapshot_download_with_allow_patterns(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    path = Path(
        snapshot_download(
            populated.repo_id, allow_patterns=["*.json", "sub/**"], endpoint=hub.url, cache_dir=cache_dir, token=False
        )
    )
    assert path.name == populated.head
    got = sorted(str(p.relative_to(path)) for p in path.rglob("*") if p.is_file())
    assert got == ["config.json", "sub/b.txt", "sub/dir/a.txt"]
    assert (path / "sub/dir/a.txt").read_bytes() == b"alpha\n"


def test_snapshot_download_whole_repo_at_tag(hub: Hub, populated: Populated, tmp_path: Path) -> None:
    path = Path(
        snapshot_download(
            populated.repo_id, revision="v1", ignore_patterns=["blobs/*"], endpoint=hub.url, local_dir=tmp_path / "s"
        )
    )
    got = {str(p.relative_to(path)) for p in path.rglob("*") if p.is_file() and ".cache" not in p.parts}
    expected = {p for p in populated.files if p not in ("notes.txt", "blobs/big.dat")} | {".gitattributes"}
    assert got == expected
    assert (path / "weights.safetensors").read_bytes() == populated.files["weights.safetensors"]


# --- HEAD metadata --------------------------------------------------------------------------------


def test_head_regular_file_headers(hub: Hub, populated: Populated) -> None:
    data = populated.files["config.json"]
    r = httpx.head(resolve_url(hub, populated, "config.json"), headers={"accept-encoding": "identity"})
    assert r.status_code == 200
    assert r.headers["x-repo-commit"] == populated.head
    assert r.headers["etag"] == f'"{git_blob_sha1(data)}"'
    assert int(r.headers["content-length"]) == len(data)
    assert "x-xet-hash" not in r.headers
    meta = get_hf_file_metadata(resolve_url(hub, populated, "config.json"), token=False)
    assert (meta.commit_hash, meta.etag, meta.size) == (populated.head, git_blob_sha1(data), len(data))


def test_head_lfs_file_headers(hub: Hub, populated: Populated) -> None:
    sha = hashlib.sha256(populated.big).hexdigest()
    r = httpx.head(resolve_url(hub, populated, "blobs/big.dat"), headers={"accept-encoding": "identity"})
    assert r.status_code == 302
    assert r.headers["x-repo-commit"] == populated.head
    assert r.headers["x-linked-etag"] == f'"{sha}"'
    assert int(r.headers["x-linked-size"]) == BIG_SIZE
    assert r.headers["location"]
    target = httpx.head(httpx.URL(r.url).join(r.headers["location"]))
    assert target.status_code == 200
    assert target.headers["x-repo-commit"] == populated.head
    assert target.headers["etag"].strip('"') == sha
    assert int(target.headers["content-length"]) == BIG_SIZE
    meta = get_hf_file_metadata(resolve_url(hub, populated, "blobs/big.dat"), token=False)
    assert (meta.commit_hash, meta.etag, meta.size) == (populated.head, sha, BIG_SIZE)


def test_head_at_older_revision_reports_that_commit(hub: Hub, populated: Populated) -> None:
    r = httpx.head(resolve_url(hub, populated, "config.json", revision="v1"))
    assert r.headers["x-repo-commit"] == populated.first
    r = httpx.head(resolve_url(hub, populated, "only-on-branch.txt", revision=populated.branch))
    assert r.status_code == 200 and r.headers["x-repo-commit"] == populated.branch_commit


def test_entry_not_found_carries_repo_commit_and_error_code(hub: Hub, populated: Populated) -> None:
    for method in ("HEAD", "GET"):
        r = httpx.request(method, resolve_url(hub, populated, "missing.txt"))
        assert r.status_code == 404
        assert r.headers["x-error-code"] == "EntryNotFound"
        assert r.headers["x-repo-commit"] == populated.head


def test_revision_not_found_on_resolve(hub: Hub, populated: Populated) -> None:
    r = httpx.head(resolve_url(hub, populated, "config.json", revision="nope"))
    assert r.status_code == 404
    assert r.headers["x-error-code"] == "RevisionNotFound"


# --- Range ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["config.json", "weights.safetensors", "blobs/big.dat"])
def test_range_requests_return_exact_bytes(hub: Hub, populated: Populated, path: str) -> None:
    data = populated.files[path]
    url = resolve_url(hub, populated, path)
    with httpx.Client(follow_redirects=True) as client:
        for header, start, end in [
            ("bytes=0-9", 0, 9),
            ("bytes=5-", 5, len(data) - 1),
            ("bytes=-7", len(data) - 7, len(data) - 1),
            (f"bytes=3-{len(data) + 100}", 3, len(data) - 1),  # clamped to the end
        ]:
            r = client.get(url, headers={"range": header})
            assert r.status_code == 206, header
            assert r.content == data[start : end + 1], header
            assert r.headers["content-range"] == f"bytes {start}-{end}/{len(data)}"
            assert int(r.headers["content-length"]) == end - start + 1
        whole = client.get(url)
        assert whole.status_code == 200 and whole.content == data


@pytest.mark.parametrize("path", ["config.json", "blobs/big.dat"])
def test_unsatisfiable_range_is_416(hub: Hub, populated: Populated, path: str) -> None:
    size = len(populated.files[path])
    r = httpx.get(resolve_url(hub, populated, path), headers={"range": f"bytes={size}-"}, follow_redirects=True)
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{size}"


def test_range_in_the_middle_of_a_large_lfs_file(hub: Hub, populated: Populated) -> None:
    start, end = 5 * 1024 * 1024 - 3, 5 * 1024 * 1024 + 100_000
    r = httpx.get(
        resolve_url(hub, populated, "blobs/big.dat"), headers={"range": f"bytes={start}-{end}"}, follow_redirects=True
    )
    assert r.status_code == 206
    assert r.content == populated.big[start : end + 1]


# --- download counter -----------------------------------------------------------------------------


def _downloads(hub: Hub, repo_id: str) -> int:
    return hub.api(None).model_info(repo_id, expand=["downloads"]).downloads


def _counted(hub: Hub, repo_id: str, expected: int) -> int:
    """The download count once it reaches `expected` (counts are written after the answer goes out)."""
    wait_for(lambda: _downloads(hub, repo_id) >= expected, 6.0, f"{expected} downloads")
    return _downloads(hub, repo_id)


def test_every_get_or_head_of_config_json_counts_a_download(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    api.create_commit(
        repo_id,
        [CommitOperationAdd("config.json", b"{}"), CommitOperationAdd("other.txt", b"x")],
        commit_message="files",
    )
    assert _downloads(hub, repo_id) == 0
    for _ in range(3):  # other files are not counted: had they been, the first flush would show 5
        assert httpx.get(f"{hub.url}/{repo_id}/resolve/main/other.txt").status_code == 200
    for _ in range(2):
        assert httpx.get(f"{hub.url}/{repo_id}/resolve/main/config.json").status_code == 200
    assert _counted(hub, repo_id, 2) == 2
    assert httpx.head(f"{hub.url}/{repo_id}/resolve/main/config.json").status_code == 200  # HEAD counts too
    assert _counted(hub, repo_id, 3) == 3
    hf_hub_download(repo_id, "config.json", endpoint=hub.url, cache_dir=cache_dir, token=False)  # HEAD + GET
    assert _counted(hub, repo_id, 5) == 5
    info = api.model_info(repo_id)
    assert (info.downloads, info.downloads_all_time) == (5, 5)


def test_head_small_lfs_file_links_its_sha256(hub: Hub, populated: Populated) -> None:
    data = populated.files["weights.safetensors"]
    meta = get_hf_file_metadata(resolve_url(hub, populated, "weights.safetensors"), token=False)
    assert (meta.etag, meta.size, meta.commit_hash) == (hashlib.sha256(data).hexdigest(), len(data), populated.head)


def test_full_ref_names_are_accepted_as_revisions(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    assert download(hub, populated, "notes.txt", cache_dir, revision="refs/heads/main") == b"second commit\n"
    assert download(hub, populated, "config.json", cache_dir, revision="refs/tags/v1") == populated.files["config.json"]
    r = httpx.head(resolve_url(hub, populated, "config.json", revision="refs/tags/v1"))
    assert r.headers["x-repo-commit"] == populated.first


@pytest.mark.parametrize(
    "path",
    ["données/été.txt", "weird #name?.txt", "100%.txt", "a%2Fb.txt", "日本語/ファイル.json", "plus+and&amp.txt"],
)
def test_unusual_file_names_round_trip(hub: Hub, repo_id: str, cache_dir: Path, path: str) -> None:
    api = hub.api("alice")
    content = f"content of {path}".encode()
    api.create_commit(repo_id, [CommitOperationAdd(path, content)], commit_message="odd name")
    assert path in api.list_repo_files(repo_id)
    assert [i.path for i in api.get_paths_info(repo_id, [path])] == [path]
    local = hf_hub_download(repo_id, path, endpoint=hub.url, cache_dir=cache_dir, token=False)
    assert Path(local).read_bytes() == content
    assert api.file_exists(repo_id, path)
    api.delete_file(path, repo_id)
    assert not api.file_exists(repo_id, path)


def test_empty_file_round_trip(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    api = hub.api("alice")
    api.create_commit(repo_id, [CommitOperationAdd("empty.txt", b"")], commit_message="empty")
    r = httpx.head(f"{hub.url}/{repo_id}/resolve/main/empty.txt")
    assert r.status_code == 200 and r.headers["content-length"] == "0"
    assert r.headers["etag"] == f'"{git_blob_sha1(b"")}"'
    local = hf_hub_download(repo_id, "empty.txt", endpoint=hub.url, cache_dir=cache_dir, token=False)
    assert Path(local).read_bytes() == b""


def test_dataset_and_space_files_resolve_under_their_prefix(hub: Hub, cache_dir: Path) -> None:
    api = hub.api("alice")
    for repo_type, prefix in (("dataset", "datasets/"), ("space", "spaces/")):
        kwargs = {"space_sdk": "static"} if repo_type == "space" else {}
        repo_id = api.create_repo(f"t{time.time_ns()}", repo_type=repo_type, **kwargs).repo_id
        api.upload_file(path_or_fileobj=b"hi", path_in_repo="f.txt", repo_id=repo_id, repo_type=repo_type)
        local = hf_hub_download(
            repo_id, "f.txt", repo_type=repo_type, endpoint=hub.url, cache_dir=cache_dir, token=False
        )
        assert Path(local).read_bytes() == b"hi"
        assert httpx.get(f"{hub.url}/{prefix}{repo_id}/resolve/main/f.txt").content == b"hi"
        assert httpx.get(f"{hub.url}/{repo_id}/resolve/main/f.txt").status_code == 404  # not a model


def test_multi_range_is_answered_with_the_whole_file(hub: Hub, populated: Populated) -> None:
    r = httpx.get(resolve_url(hub, populated, "config.json"), headers={"range": "bytes=0-1,4-5"})
    assert r.status_code == 200
    assert r.content == populated.files["config.json"]
