"""The git-based `Repository` helper of huggingface_hub 0.x (removed in 1.0): clone, LFS-track, push_to_hub."""
# requires: huggingface_hub<1, git-binary

import random
import shutil
import warnings

from _common import UID, WORK, Skip, check, create_repo, fetch_sha256, hub_api, run, sha256_bytes, step, token

warnings.simplefilter("ignore")


def main() -> None:
    if shutil.which("git") is None or shutil.which("git-lfs") is None:
        raise Skip("git or git-lfs is not installed")
    from huggingface_hub import Repository

    api = hub_api()
    repo_id = f"alice/compat-legacy-{UID}"
    step("create_repo")
    create_repo(api, repo_id)
    step("Repository(clone_from=...)")
    local = WORK / "legacy"
    repo = Repository(
        str(local), clone_from=repo_id, token=token("alice"), git_user="Compat", git_email="c@example.org"
    )
    step("lfs_track + push_to_hub")
    repo.lfs_track(["*.bin"])
    blob = random.Random(UID).randbytes(11 * 1024 * 1024)
    (local / "weights.bin").write_bytes(blob)
    (local / "config.json").write_text('{"legacy": true}')
    repo.push_to_hub(commit_message="pushed with Repository")
    step("read back over HTTP")
    check(fetch_sha256(repo_id, "weights.bin") == sha256_bytes(blob), "weights.bin differs")
    check(api.model_info(repo_id).sha == repo.git_head_hash(), "the hub's main is not the pushed commit")
    step("git_pull after an API commit")
    api.upload_file(path_or_fileobj=b"from the API\n", path_in_repo="api.txt", repo_id=repo_id)
    repo.git_pull()
    check((local / "api.txt").read_bytes() == b"from the API\n", "git_pull did not bring api.txt")


if __name__ == "__main__":
    run(main)
