"""git push to refs/pr/N: writers push to open pull requests (the thread records the commits, a draft opens);
pushes that would create, delete or revive a pull request's branch are refused, leaving it as it was."""

from __future__ import annotations

from pathlib import Path

from huggingface_hub import DiscussionCommit

from tests.conftest import Hub
from tests.git.conftest import Git, url


def _pr_tip(hub: Hub, repo_id: str, num: int) -> str:
    prs = hub.api("alice").list_repo_refs(repo_id, include_pull_requests=True).pull_requests
    return {p.ref: p.target_commit for p in prs}[f"refs/pr/{num}"]


def test_writers_push_commits_to_an_open_pull_request(hub: Hub, git: Git, repo_id: str, tmp_path: Path) -> None:
    alice = hub.api("alice")
    pr = hub.api("bob").create_pull_request(repo_id, "Tidy up")
    work = tmp_path / "w"
    git.run("clone", "-q", url(hub, repo_id, "alice"), str(work))
    git.run("fetch", "-q", "origin", "refs/pr/1:pr", cwd=work)
    git.run("checkout", "-q", "pr", cwd=work)
    (work / "one.txt").write_text("1")
    first = git.commit_all(work, "first")
    (work / "two.txt").write_text("2")
    second = git.commit_all(work, "second")
    git.run("push", "-q", "origin", "HEAD:refs/pr/1", cwd=work)
    assert _pr_tip(hub, repo_id, pr.num) == second
    d = alice.get_discussion_details(repo_id, pr.num)
    commits = [(e.oid, e.summary, e.author) for e in d.events if isinstance(e, DiscussionCommit)]
    assert d.status == "open" and commits == [(first, "first", "alice"), (second, "second", "alice")]
    alice.merge_pull_request(repo_id, pr.num)
    assert alice.list_repo_commits(repo_id)[0].commit_id == second


def test_pushes_that_would_create_delete_or_revive_pr_branches_are_refused(
    hub: Hub, git: Git, repo_id: str, tmp_path: Path
) -> None:
    alice = hub.api("alice")
    pr = hub.api("bob").create_pull_request(repo_id, "To be closed")
    tip = _pr_tip(hub, repo_id, pr.num)
    work = tmp_path / "w"
    git.run("clone", "-q", url(hub, repo_id, "alice"), str(work))
    (work / "x.txt").write_text("x")
    git.commit_all(work, "x")
    r = git.run("push", "origin", "HEAD:refs/pr/7", cwd=work, check=False)
    assert r.returncode != 0 and "no pull request #7" in r.stderr
    r = git.run("push", "origin", ":refs/pr/1", cwd=work, check=False)
    assert r.returncode != 0 and "cannot be deleted" in r.stderr
    alice.change_discussion_status(repo_id, pr.num, "closed")
    r = git.run("push", "origin", "HEAD:refs/pr/1", cwd=work, check=False)
    assert r.returncode != 0 and "is closed" in r.stderr
    assert _pr_tip(hub, repo_id, pr.num) == tip
    assert [e.type for e in alice.get_discussion_details(repo_id, pr.num).events] == ["comment", "status-change"]


def test_contributors_push_to_pull_requests_and_to_nothing_else(
    hub: Hub, git: Git, repo_id: str, tmp_path: Path
) -> None:
    """bob may not write to alice's public repository, but may contribute: git push moves his pull
    request's ref (LFS files included), and nothing else; a read-only token or no token moves nothing."""
    alice, bob = hub.api("alice"), hub.api("bob")
    pr = bob.create_pull_request(repo_id, "Proposal")
    main = alice.model_info(repo_id).sha
    work = tmp_path / "w"
    git.run("clone", "-q", url(hub, repo_id, "bob"), str(work))
    git.run("fetch", "-q", "origin", f"refs/pr/{pr.num}:pr", cwd=work)
    git.run("checkout", "-q", "pr", cwd=work)
    (work / "notes.txt").write_text("from bob")
    notes = git.commit_all(work, "bob's notes")

    no_prompt = {"GIT_TERMINAL_PROMPT": "0"}
    for who, read_only in (("bob", True), (None, False)):
        git.run("remote", "set-url", "origin", url(hub, repo_id, who, read_only), cwd=work)
        r = git.run("push", "origin", f"HEAD:refs/pr/{pr.num}", cwd=work, check=False, env=no_prompt)
        assert r.returncode != 0, (who, read_only)
    git.run("remote", "set-url", "origin", url(hub, repo_id, "bob"), cwd=work)
    r = git.run("push", "origin", "HEAD:main", f"HEAD:refs/pr/{pr.num}", cwd=work, check=False)
    assert r.returncode != 0 and "refs/heads/main: needs write access" in r.stderr  # all or nothing
    assert _pr_tip(hub, repo_id, pr.num) != notes

    (work / "weights.bin").write_bytes(b"\x00bob's weights" * 1000)  # LFS by the repository's .gitattributes
    weights = git.commit_all(work, "bob's weights")
    git.run("push", "-q", "origin", f"HEAD:refs/pr/{pr.num}", cwd=work)
    assert _pr_tip(hub, repo_id, pr.num) == weights and alice.model_info(repo_id).sha == main
    d = alice.get_discussion_details(repo_id, pr.num)
    events = [(e.oid, e.author) for e in d.events if isinstance(e, DiscussionCommit)]
    assert events == [(notes, "bob"), (weights, "bob")]
    files = {f.path: f for f in alice.list_repo_tree(repo_id, revision=f"refs/pr/{pr.num}")}
    assert files["weights.bin"].lfs is not None  # stored in LFS, uploaded by git-lfs under bob's right to contribute
    alice.merge_pull_request(repo_id, pr.num)
    assert alice.model_info(repo_id).sha == weights
