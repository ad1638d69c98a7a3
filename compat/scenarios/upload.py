"""upload_folder with small, empty and large (12 MiB) files, upload_file, delete_file, then read back over HTTP.

Clients with hf_xet upload the large files through Xet, the others through Git LFS; what the hub serves must be
byte-identical either way.
"""
# requires: huggingface_hub

import json
import os
import random

from _common import (
    UID,
    WORK,
    call,
    check,
    commit_oid,
    create_repo,
    fetch_sha256,
    hub_api,
    note,
    run,
    sha256_bytes,
    sha256_file,
    step,
    xet_active,
)

MIB = 1024 * 1024


def write(path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def main() -> None:
    api = hub_api()
    note("xet", xet_active())
    repo_id = f"alice/compat-upload-{UID}"
    step("create_repo")
    create_repo(api, repo_id)
    folder = WORK / "upload"
    rng = random.Random(UID)
    files = {
        "README.md": b"---\nlicense: apache-2.0\ntags:\n- compat\n---\n# Uploaded by the compat suite\n",
        "config.json": json.dumps({"hidden": 32, "id": UID}).encode(),
        "nested/deeper/notes.txt": b"some notes\n" * 100,
        "empty.txt": b"",
        "weights/large.bin": rng.randbytes(12 * MIB),
        "weights/medium.bin": rng.randbytes(MIB + 17),  # below the LFS threshold, above 1 MB
    }
    for path, data in files.items():
        write(folder / path, data)

    step("upload_folder")
    info = call(api.upload_folder, repo_id=repo_id, folder_path=str(folder), commit_message="compat upload")
    oid = commit_oid(info)
    check(oid and len(oid) == 40, f"upload_folder returned {info!r}")
    step("model_info after upload")
    model = call(api.model_info, repo_id, files_metadata=True)
    check(model.sha == oid, f"model_info sha {model.sha} != commit {oid}")
    siblings = {s.rfilename: s for s in model.siblings}
    check(set(files) <= set(siblings), f"missing files: {set(files) - set(siblings)}")
    check(siblings["weights/large.bin"].lfs is not None, "large.bin is not stored as a large file")
    check(siblings["weights/large.bin"].size == 12 * MIB, f"large.bin size {siblings['weights/large.bin'].size}")
    step("read back over HTTP")
    for path, data in files.items():
        check(fetch_sha256(repo_id, path) == sha256_bytes(data), f"{path}: served bytes differ")

    step("upload_file large to a new path")
    big = WORK / "another.bin"
    big.write_bytes(rng.randbytes(11 * MIB))
    info2 = call(api.upload_file, path_or_fileobj=str(big), path_in_repo="weights/another.bin", repo_id=repo_id)
    check(commit_oid(info2) != oid, "upload_file made no new commit")
    check(fetch_sha256(repo_id, "weights/another.bin") == sha256_file(big), "another.bin: served bytes differ")
    step("upload_file bytes")
    call(api.upload_file, path_or_fileobj=b"inline bytes\n", path_in_repo="inline.txt", repo_id=repo_id)
    check(fetch_sha256(repo_id, "inline.txt") == sha256_bytes(b"inline bytes\n"), "inline.txt differs")

    step("same large content in a second repo (dedup)")
    other = f"alice/compat-upload2-{UID}"
    create_repo(api, other)
    call(api.upload_file, path_or_fileobj=str(big), path_in_repo="copy.bin", repo_id=other)
    check(fetch_sha256(other, "copy.bin") == sha256_file(big), "copy.bin: served bytes differ")

    step("upload_folder to a subfolder with allow_patterns")
    call(
        api.upload_folder,
        repo_id=repo_id,
        folder_path=str(folder),
        path_in_repo="copy",
        allow_patterns=["*.json", "nested/*"],
    )
    names = set(api.list_repo_files(repo_id))
    check("copy/config.json" in names and "copy/nested/deeper/notes.txt" in names, f"copy/ holds {sorted(names)}")
    check("copy/weights/large.bin" not in names, "allow_patterns was not applied")

    step("delete_file")
    call(api.delete_file, path_in_repo="empty.txt", repo_id=repo_id)
    check("empty.txt" not in set(api.list_repo_files(repo_id)), "empty.txt still listed")
    step("delete_folder")
    if hasattr(api, "delete_folder"):
        call(api.delete_folder, path_in_repo="copy", repo_id=repo_id)
        check(not any(n.startswith("copy/") for n in api.list_repo_files(repo_id)), "copy/ still listed")
    os.remove(big)


if __name__ == "__main__":
    run(main)
