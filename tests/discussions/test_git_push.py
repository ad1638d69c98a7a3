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
