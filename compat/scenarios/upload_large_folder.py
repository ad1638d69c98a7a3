"""upload_large_folder (0.25 and later): resumable, multi-worker upload of a folder with small and large files."""
# requires: huggingface_hub

import random

from _common import (
    UID,
    WORK,
    Skip,
    call,
    check,
    create_repo,
    fetch_sha256,
    hub_api,
    note,
    run,
    sha256_file,
    step,
    xet_active,
)


def main() -> None:
    api = hub_api()
    if not hasattr(api, "upload_large_folder"):
        raise Skip("this release has no upload_large_folder")
    note("xet", xet_active())
    folder = WORK / "large-folder"
    rng = random.Random(UID)
    for i in range(3):
        (folder / f"shard-{i}").mkdir(parents=True)
        (folder / f"shard-{i}" / "weights.bin").write_bytes(rng.randbytes((4 + 4 * i) * 1024 * 1024))
        (folder / f"shard-{i}" / "meta.json").write_text(f'{{"shard": {i}}}')
    repo_id = f"alice/compat-large-folder-{UID}"
    step("create_repo")
    create_repo(api, repo_id)
    step("upload_large_folder")
    call(api.upload_large_folder, repo_id=repo_id, folder_path=str(folder), repo_type="model", num_workers=2)
    step("read back over HTTP")
    for path in folder.rglob("*"):
        if path.is_file() and ".cache" not in path.parts:
            name = str(path.relative_to(folder))
            check(fetch_sha256(repo_id, name) == sha256_file(path), f"{name} differs")
    files = set(api.list_repo_files(repo_id))
    check(not any(f.startswith(".cache") for f in files), f"upload_large_folder uploaded its own cache: {files}")


if __name__ == "__main__":
    run(main)
