"""HfFileSystem (what datasets and pandas read hf:// paths with): ls, glob, info, ranged reads, revisions, write."""
# requires: huggingface_hub

from _common import ENDPOINT, UID, call, check, create_repo, fetch_sha256, fixtures, hub_api, run, sha256_bytes, step


def main() -> None:
    from huggingface_hub import HfFileSystem

    fx = fixtures()
    fs = HfFileSystem(endpoint=ENDPOINT)
    for kind in ("lfs", "xet"):
        repo = fx["models"][kind]
        repo_id, revs = repo["repo_id"], repo["revisions"]
        step(f"{kind}: ls")
        names = {p.removeprefix(repo_id + "/") for p in fs.ls(repo_id, detail=False)}
        top = {p.split("/")[0] for p in revs["main"]["files"]}
        check(names == top, f"ls gave {sorted(names)}, expected {sorted(top)}")
        step(f"{kind}: glob")
        found = {p.removeprefix(repo_id + "/") for p in fs.glob(f"{repo_id}/**/*.txt") + fs.glob(f"{repo_id}/*.txt")}
        check(found == {p for p in revs["main"]["files"] if p.endswith(".txt")}, f"glob gave {sorted(found)}")
        step(f"{kind}: info")
        info = fs.info(f"{repo_id}/large.bin")
        check(info["size"] == 12 * 1024 * 1024 and info["type"] == "file", f"info {info}")
        step(f"{kind}: cat a whole file")
        whole = fs.cat(f"{repo_id}/large.bin")
        check(sha256_bytes(whole) == revs["main"]["files"]["large.bin"], "large.bin differs")
        step(f"{kind}: ranged reads")
        with fs.open(f"{repo_id}/large.bin", "rb", block_size=1 << 20) as f:
            for offset, size in ((0, 100), (5_000_123, 4096), (len(whole) - 10, 10), (3 << 20, 2 << 20)):
                f.seek(offset)
                check(f.read(size) == whole[offset : offset + size], f"bytes {offset}+{size} differ")
        step(f"{kind}: paths at a tag and a branch")
        v1 = fs.cat(f"{repo_id}@v1/config.json")
        check(sha256_bytes(v1) == revs["v1"]["files"]["config.json"], "config.json@v1 differs")
        check(fs.exists(f"{repo_id}@dev/dev.txt") and not fs.exists(f"{repo_id}/dev.txt"), "dev.txt visibility")
        sha = revs["v1"]["sha"]
        check(sha256_bytes(fs.cat(f"{repo_id}@{sha}/config.json")) == revs["v1"]["files"]["config.json"], "@sha")
    step("datasets: ls and read")
    csv = fx["datasets"]["csv"]["repo_id"]
    listed = {p.rsplit("/", 1)[1] for p in fs.ls(f"datasets/{csv}/data", detail=False)}
    check(listed == {"train.csv", "test.csv"}, f"dataset ls {listed}")
    check(fs.cat(f"datasets/{csv}/data/test.csv").startswith(b"id,text,score"), "test.csv header")

    step("write through the filesystem")
    api = hub_api()
    repo_id = f"alice/compat-hffs-{UID}"
    create_repo(api, repo_id)
    with fs.open(f"{repo_id}/written.txt", "wb") as f:
        f.write(b"written by HfFileSystem\n")
    check(fetch_sha256(repo_id, "written.txt") == sha256_bytes(b"written by HfFileSystem\n"), "written.txt")
    step("rm through the filesystem")
    call(fs.rm, f"{repo_id}/written.txt")
    check("written.txt" not in api.list_repo_files(repo_id), "written.txt still there")


if __name__ == "__main__":
    run(main)
