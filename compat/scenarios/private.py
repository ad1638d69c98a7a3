"""Who reads a private repo: the owner (write and read tokens) and org members can, anonymous and others cannot."""
# requires: huggingface_hub

from _common import WORK, call, check, fixtures, hub_api, raises, run, sha256_file, step, token

NOT_FOUND = ("RepositoryNotFoundError",)


def main() -> None:
    from huggingface_hub import hf_hub_download, snapshot_download

    fx = fixtures()
    priv, org = fx["private"], fx["org_private"]
    cache = str(WORK / "cache")
    step("model_info as the owner")
    info = hub_api().model_info(priv["repo_id"])
    check(info.private is True and info.sha == priv["sha"], f"owner sees private={info.private} sha={info.sha}")
    for who, tok in (("owner", None), ("owner's read token", token("alice", read=True))):
        for name, digest in priv["files"].items():
            step(f"hf_hub_download {name} as {who}")
            path = call(hf_hub_download, priv["repo_id"], name, token=tok, cache_dir=cache + who)
            check(sha256_file(path) == digest, f"{name} differs")
    step("snapshot_download as the owner")
    snap = call(snapshot_download, priv["repo_id"], cache_dir=cache + "snap")
    check(sha256_file(f"{snap}/weights.bin") == priv["files"]["weights.bin"], "snapshot weights.bin differs")

    for who, tok in (("anonymous", False), ("bob", token("bob"))):
        step(f"model_info as {who}")
        raises(NOT_FOUND, hub_api(tok).model_info, priv["repo_id"])
        step(f"hf_hub_download as {who}")
        raises(NOT_FOUND, call, hf_hub_download, priv["repo_id"], "config.json", token=tok, cache_dir=cache + who)
        step(f"snapshot_download as {who}")
        raises(NOT_FOUND, call, snapshot_download, priv["repo_id"], token=tok, cache_dir=cache + who)

    step("org private repo: a reader member downloads")
    path = call(hf_hub_download, org["repo_id"], "weights.bin", token=token("carol"), cache_dir=cache + "carol")
    check(sha256_file(path) == org["files"]["weights.bin"], "org weights.bin differs")
    step("org private repo: a non-member cannot")
    raises(
        NOT_FOUND, call, hf_hub_download, org["repo_id"], "config.json", token=token("bob"), cache_dir=cache + "bob2"
    )
    step("org private repo: a reader member cannot write")
    raises(
        ("HfHubHTTPError", "HTTPError"),
        call,
        hub_api(token("carol")).upload_file,
        path_or_fileobj=b"x",
        path_in_repo="x.txt",
        repo_id=org["repo_id"],
    )
    step("a read token cannot write")
    raises(
        ("HfHubHTTPError", "HTTPError"),
        call,
        hub_api(token("alice", read=True)).upload_file,
        path_or_fileobj=b"x",
        path_in_repo="x.txt",
        repo_id=priv["repo_id"],
    )
    step("whoami")
    me = hub_api().whoami()
    check(me["name"] == "alice", f"whoami {me.get('name')}")
    check(hub_api(token("bob", read=True)).whoami()["name"] == "bob", "whoami with bob's read token")


if __name__ == "__main__":
    run(main)
