"""create_commit(create_pr=True) / create_pull_request: the change lands on refs/pr/N, main stays put."""
# requires: huggingface_hub

from _common import UID, Skip, call, check, create_repo, fetch_sha256, hub_api, run, sha256_bytes, step


def main() -> None:
    from huggingface_hub import CommitOperationAdd

    api = hub_api()
    repo_id = f"alice/compat-pr-{UID}"
    step("create_repo + a commit")
    create_repo(api, repo_id)
    call(api.upload_file, path_or_fileobj=b"a\n", path_in_repo="a.txt", repo_id=repo_id)
    head = api.model_info(repo_id).sha
    step("create_commit create_pr=True")
    op = [CommitOperationAdd(path_in_repo="pr.txt", path_or_fileobj=b"pr\n")]
    try:
        pr = call(api.create_commit, repo_id, operations=op, commit_message="a proposal", create_pr=True)
    except Exception as exc:
        if getattr(getattr(exc, "response", None), "status_code", None) == 501:
            raise Skip("Haven answers 501: pull requests are not implemented yet") from None
        raise
    check(pr.pr_url and pr.pr_url.rstrip("/").split("/")[-2] == "discussions", f"pr_url {pr.pr_url}")
    pr_ref = f"refs/pr/{pr.pr_num}"
    check(fetch_sha256(repo_id, "pr.txt", pr_ref) == sha256_bytes(b"pr\n"), "pr.txt on the PR ref")
    check(api.model_info(repo_id).sha == head, "create_pr moved main")
    step("list_repo_refs include_pull_requests")
    refs = call(api.list_repo_refs, repo_id, include_pull_requests=True)
    check([p.ref for p in (refs.pull_requests or [])] == [pr_ref], f"pull requests {refs.pull_requests}")


if __name__ == "__main__":
    run(main)
