"""The contributor role: opens discussions and pull requests (and pushes to refs/pr/N) on the organisation's
private repositories, and changes nothing else. erin is acme's contributor, carol its reader."""

from __future__ import annotations

import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError

from tests.conftest import Hub


def _status(exc: pytest.ExceptionInfo[HfHubHTTPError]) -> int:
    return exc.value.response.status_code


@pytest.fixture
def private_repo(hub: Hub, repo_name: str) -> str:
    repo_id = f"acme/{repo_name}"
    hub.api("alice").create_repo(repo_id, private=True)
    hub.api("alice").upload_file(path_or_fileobj=b"v1", path_in_repo="notes.txt", repo_id=repo_id)
    return repo_id


def test_a_contributor_opens_prs_and_pushes_to_them_through_the_client(hub: Hub, private_repo: str) -> None:
    erin, alice = hub.api("erin"), hub.api("alice")
    assert erin.model_info(private_repo).id == private_repo  # contributors read
    pr = erin.create_commit(
        private_repo, [CommitOperationAdd("notes.txt", b"v2")], commit_message="proposal", create_pr=True
    )
    # a second commit on the PR's branch, with an LFS file (the batch names refs/pr/N)
    erin.upload_file(
        path_or_fileobj=b"\x00weights" * 100, path_in_repo="model.bin", repo_id=private_repo, revision=pr.pr_revision
    )
    details = alice.get_discussion_details(private_repo, pr.pr_num)
    assert details.author == "erin" and details.is_pull_request
    files = {f.rfilename for f in alice.list_repo_tree(private_repo, revision=pr.pr_revision)}
    assert {"notes.txt", "model.bin"} <= files
    erin.comment_discussion(private_repo, pr.pr_num, "ready for review")
    d = erin.create_discussion(private_repo, "a question")
    assert alice.get_discussion_details(private_repo, d.num).author == "erin"
    alice.merge_pull_request(private_repo, pr.pr_num)
    assert alice.hf_hub_download(private_repo, "notes.txt", local_dir=None) is not None


def test_a_contributor_cannot_commit_branch_tag_or_change_settings(hub: Hub, private_repo: str) -> None:
    erin = hub.api("erin")
    refused = [
        lambda: erin.create_commit(private_repo, [CommitOperationAdd("x.txt", b"x")], commit_message="direct"),
        lambda: erin.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=private_repo),
        lambda: erin.create_branch(private_repo, branch="mine"),
        lambda: erin.delete_branch(private_repo, branch="main"),
        lambda: erin.create_tag(private_repo, tag="v1"),
        lambda: erin.update_repo_settings(private_repo, private=False),
        lambda: erin.delete_repo(private_repo),
        lambda: erin.create_repo(f"acme/{private_repo.split('/')[1]}-new"),
    ]
    for call in refused:
        with pytest.raises(HfHubHTTPError) as exc:
            call()
        assert _status(exc) == 403, exc.value
    assert [b.name for b in erin.list_repo_refs(private_repo).branches] == ["main"]
    pr = erin.create_commit(private_repo, [CommitOperationAdd("y.txt", b"y")], commit_message="pr", create_pr=True)
    with pytest.raises(HfHubHTTPError) as exc:
        erin.merge_pull_request(private_repo, pr.pr_num)
    assert _status(exc) == 403


def test_readers_read_but_do_not_contribute_to_private_repos(hub: Hub, private_repo: str) -> None:
    carol = hub.api("carol")
    assert carol.model_info(private_repo).id == private_repo
    with pytest.raises(HfHubHTTPError) as exc:
        carol.create_discussion(private_repo, "may I?")
    assert _status(exc) == 403
    with pytest.raises(HfHubHTTPError) as exc:
        carol.create_commit(private_repo, [CommitOperationAdd("z.txt", b"z")], commit_message="pr", create_pr=True)
    assert _status(exc) == 403
    assert list(hub.api("alice").get_repo_discussions(private_repo)) == []
