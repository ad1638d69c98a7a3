"""hf_hub_download and snapshot_download by branch, tag and commit sha, from an LFS-stored and a Xet-stored repo.

The fixtures (seeded by the runner) have revisions main, v1 (tag), dev (branch) and the commit shas of all three.
"""
# requires: huggingface_hub

from pathlib import Path

from _common import WORK, call, check, fixtures, note, raises, run, sha256_file, step, xet_active


def check_snapshot(path: str, expected: dict[str, str], label: str) -> None:
    root = Path(path)
    found = {str(p.relative_to(root)): p for p in root.rglob("*") if p.is_file() and ".cache" not in p.parts}
    check(set(found) == set(expected), f"{label}: snapshot holds {sorted(found)}, expected {sorted(expected)}")
    for name, digest in expected.items():
        check(sha256_file(found[name]) == digest, f"{label}: {name} differs")


def main() -> None:
    from huggingface_hub import hf_hub_download, snapshot_download

    note("xet", xet_active())
    models = fixtures()["models"]
    check({"lfs", "xet"} <= set(models), f"fixtures missing: {sorted(models)}")
    for kind in ("lfs", "xet"):
        fx = models[kind]
        repo_id, revs = fx["repo_id"], fx["revisions"]
        cache = WORK / f"cache-{kind}"
        for rev_name in ("main", "v1", "dev"):
            rev = revs[rev_name]
            for label, revision in (
                (rev_name, None if rev_name == "main" else rev_name),
                (f"{rev_name}@sha", rev["sha"]),
            ):
                for name in ("config.json", "large.bin"):
                    step(f"{kind}: hf_hub_download {name} revision={label}")
                    path = call(hf_hub_download, repo_id, name, revision=revision, cache_dir=str(cache))
                    check(sha256_file(path) == rev["files"][name], f"{name}@{label} differs")
                    if revision == rev["sha"]:
                        check(rev["sha"] in path, f"cache path {path} does not name the commit")
            step(f"{kind}: snapshot_download revision={rev_name}")
            snap = call(snapshot_download, repo_id, revision=rev_name, cache_dir=str(cache))
            check(Path(snap).name == rev["sha"], f"snapshot dir {snap} is not the commit {rev['sha']}")
            check_snapshot(snap, rev["files"], f"{kind} snapshot {rev_name}")
        step(f"{kind}: snapshot_download by sha")
        v1 = revs["v1"]
        check_snapshot(call(snapshot_download, repo_id, revision=v1["sha"], cache_dir=str(cache)), v1["files"], "sha")
        step(f"{kind}: snapshot_download allow_patterns to local_dir")
        local = WORK / f"local-{kind}"
        snap = call(snapshot_download, repo_id, allow_patterns=["*.json", "sub/*"], local_dir=str(local))
        want = {k: v for k, v in revs["main"]["files"].items() if k.endswith(".json") or k.startswith("sub/")}
        check_snapshot(snap, want, "allow_patterns")
        step(f"{kind}: hf_hub_download subfolder to local_dir")
        path = call(hf_hub_download, repo_id, "small.txt", subfolder="sub", local_dir=str(local))
        check(sha256_file(path) == revs["main"]["files"]["sub/small.txt"], "sub/small.txt differs")
        step(f"{kind}: hf_hub_download from the cache again")
        again = call(hf_hub_download, repo_id, "large.bin", cache_dir=str(cache))
        check(sha256_file(again) == revs["main"]["files"]["large.bin"], "cached large.bin differs")
        step(f"{kind}: missing file")
        raises(
            ("EntryNotFoundError", "RemoteEntryNotFoundError"),
            call,
            hf_hub_download,
            repo_id,
            "nope.txt",
            cache_dir=str(cache),
        )
        step(f"{kind}: missing revision")
        raises(
            ("RevisionNotFoundError",),
            call,
            hf_hub_download,
            repo_id,
            "config.json",
            revision="no-such-branch",
            cache_dir=str(cache),
        )
        step(f"{kind}: missing repo")
        raises(
            ("RepositoryNotFoundError",),
            call,
            hf_hub_download,
            repo_id + "-missing",
            "config.json",
            cache_dir=str(cache),
        )


if __name__ == "__main__":
    run(main)
