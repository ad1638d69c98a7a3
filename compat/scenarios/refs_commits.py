"""Branches, tags, commit history and parent_commit checks on a fresh repository."""
# requires: huggingface_hub

from pathlib import Path

from _common import (
    UID,
    WORK,
    call,
    check,
    commit_oid,
    create_repo,
    fetch_sha256,
    hub_api,
    raises,
    run,
    sha256_bytes,
    step,
)


def upload(api, repo_id: str, path: str, data: bytes, **kw) -> str:
    return commit_oid(call(api.upload_file, path_or_fileobj=data, path_in_repo=path, repo_id=repo_id, **kw))


def main() -> None:
    from huggingface_hub import CommitOperationAdd, hf_hub_download

    api = hub_api()
    repo_id = f"alice/compat-refs-{UID}"
    step("create_repo + two commits")
    create_repo(api, repo_id)
    first = upload(api, repo_id, "a.txt", b"a\n", commit_message="first file")
    second = upload(api, repo_id, "b.txt", b"b\n", commit_message="second file")
    check(len({first, second}) == 2 and all(len(c) == 40 for c in (first, second)), f"commits {first} {second}")

    step("list_repo_commits")
    commits = api.list_repo_commits(repo_id)
    check([c.commit_id for c in commits[:2]] == [second, first], f"history starts {[c.commit_id for c in commits[:3]]}")
    check([c.title for c in commits[:2]] == ["second file", "first file"], f"titles {[c.title for c in commits[:2]]}")
    check(all(c.created_at is not None for c in commits), "a commit has no date")

    step("create_branch from a commit")
    call(api.create_branch, repo_id, branch="feature/x", revision=first)
    step("create_tag with a message")
    call(api.create_tag, repo_id, tag="v1.0", revision=first, tag_message="first release")
    call(api.create_tag, repo_id, tag="latest")
    step("list_repo_refs")
    refs = api.list_repo_refs(repo_id)
    branches = {b.name: b.target_commit for b in refs.branches}
    tags = {t.name: t.target_commit for t in refs.tags}
    check(branches == {"main": second, "feature/x": first}, f"branches {branches}")
    check(tags == {"v1.0": first, "latest": second}, f"tags {tags}")

    step("download from the branch and the tag")
    cache = str(WORK / "cache")
    for rev in ("feature/x", "v1.0", first):
        path = call(hf_hub_download, repo_id, "a.txt", revision=rev, cache_dir=cache)
        check(Path(path).read_bytes() == b"a\n", f"a.txt@{rev}")
        raises(
            ("EntryNotFoundError", "RemoteEntryNotFoundError"),
            call,
            hf_hub_download,
            repo_id,
            "b.txt",
            revision=rev,
            cache_dir=cache,
        )
    step("commit to the branch")
    on_branch = upload(api, repo_id, "c.txt", b"c\n", revision="feature/x", commit_message="on the branch")
    check(fetch_sha256(repo_id, "c.txt", "feature/x") == sha256_bytes(b"c\n"), "c.txt on feature/x")
    history = [c.commit_id for c in api.list_repo_commits(repo_id, revision="feature/x")]
    check(history[:2] == [on_branch, first], f"branch history {history}")
    check(api.list_repo_refs(repo_id).branches and api.model_info(repo_id).sha == second, "main moved")

    step("create_commit with a parent_commit")
    op = [CommitOperationAdd(path_in_repo="d.txt", path_or_fileobj=b"d\n")]
    third = call(api.create_commit, repo_id, operations=op, commit_message="with parent", parent_commit=second).oid
    step("create_commit with a stale parent_commit")
    op = [CommitOperationAdd(path_in_repo="e.txt", path_or_fileobj=b"e\n")]
    raises(
        ("HfHubHTTPError", "HTTPError"),
        call,
        api.create_commit,
        repo_id,
        operations=op,
        commit_message="stale",
        parent_commit=second,
    )
    check(api.model_info(repo_id).sha == third, "a stale parent moved main")

    step("delete_tag and delete_branch")
    api.delete_tag(repo_id, tag="v1.0")
    api.delete_branch(repo_id, branch="feature/x")
    refs = api.list_repo_refs(repo_id)
    check({b.name for b in refs.branches} == {"main"} and {t.name for t in refs.tags} == {"latest"}, f"refs {refs}")
    raises(
        ("RevisionNotFoundError",), call, hf_hub_download, repo_id, "a.txt", revision="v1.0", cache_dir=str(WORK / "c2")
    )


if __name__ == "__main__":
    run(main)
