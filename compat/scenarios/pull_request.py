"""Pull requests: create_commit(create_pr=True) by another user lands on refs/pr/N (main stays put), the thread
shows the commit, a comment goes in, the owner merges, main gets the file; list_repo_refs lists the PR."""
# requires: huggingface_hub

from _common import UID, call, check, create_repo, fetch_sha256, hub_api, run, sha256_bytes, step, token


def main() -> None:
    from huggingface_hub import CommitOperationAdd

    api, bob = hub_api(), hub_api(token("bob"))
    repo_id = f"alice/compat-pr-{UID}"
    step("create_repo + a commit")
    create_repo(api, repo_id)
    call(api.upload_file, path_or_fileobj=b"a\n", path_in_repo="a.txt", repo_id=repo_id)
    head = api.model_info(repo_id).sha
    step("create_commit create_pr=True (another user)")
    op = [CommitOperationAdd(path_in_repo="pr.txt", path_or_fileobj=b"pr\n")]
    pr = call(bob.create_commit, repo_id, operations=op, commit_message="a proposal", create_pr=True)
    check(pr.pr_url and pr.pr_url.rstrip("/").split("/")[-2] == "discussions", f"pr_url {pr.pr_url}")
    num = int(pr.pr_url.rstrip("/").split("/")[-1])
    pr_ref = f"refs/pr/{num}"
    check(fetch_sha256(repo_id, "pr.txt", pr_ref) == sha256_bytes(b"pr\n"), "pr.txt on the PR ref")
    check(api.model_info(repo_id).sha == head, "create_pr moved main")
    step("list_repo_refs include_pull_requests")
    refs = call(api.list_repo_refs, repo_id, include_pull_requests=True)
    check([p.ref for p in (refs.pull_requests or [])] == [pr_ref], f"pull requests {refs.pull_requests}")
    step("get_discussion_details + comment_discussion")
    details = api.get_discussion_details(repo_id, num)
    check(details.is_pull_request and details.status == "open", f"status {details.status}")
    check(details.target_branch == "main" and details.author == "bob", f"{details.target_branch} {details.author}")
    check("commit" in [e.type for e in details.events], f"events {[e.type for e in details.events]}")
    comment = bob.comment_discussion(repo_id, num, "please merge")
    check(comment.content == "please merge", f"comment {comment.content!r}")
    step("merge_pull_request")
    api.merge_pull_request(repo_id, num)
    check(fetch_sha256(repo_id, "pr.txt") == sha256_bytes(b"pr\n"), "pr.txt on main after the merge")
    check(api.get_discussion_details(repo_id, num).status == "merged", "status after the merge")
    check([d.num for d in api.get_repo_discussions(repo_id)] == [num], "get_repo_discussions")


if __name__ == "__main__":
    run(main)
