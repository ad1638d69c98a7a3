"""list_models / list_datasets with search, author, filter, sort and direction; files, tree and paths-info."""
# requires: huggingface_hub

import inspect

from _common import call, check, fixtures, hub_api, note, run, step


def ids(items) -> list[str]:
    return [m.id for m in items]


def main() -> None:
    fx = fixtures()
    api = hub_api()
    lfs, xet = fx["models"]["lfs"]["repo_id"], fx["models"]["xet"]["repo_id"]
    step("list_models search")
    found = ids(call(api.list_models, search=lfs.split("/")[1]))
    check(found == [lfs], f"search found {found}")
    step("list_models author + search")
    found = ids(call(api.list_models, author="alice", search="compat-"))
    check({lfs, xet} <= set(found), f"author+search found {found}")
    step("list_models filter (tag)")
    found = ids(call(api.list_models, filter="compat-fixture"))
    check({lfs, xet} <= set(found), f"filter found {found}")
    step("list_models sort lastModified direction=-1 limit=3")
    newest = list(call(api.list_models, author="alice", sort="lastModified", direction=-1, limit=3))
    check(0 < len(newest) <= 3, f"limit=3 gave {len(newest)}")
    step("list_models sort lastModified direction=1 (ascending, old clients)")
    if "direction" in inspect.signature(api.list_models).parameters:
        asc = ids(api.list_models(author="alice", sort="lastModified", direction=1))
        desc = ids(api.list_models(author="alice", sort="lastModified", direction=-1))
        check(asc == desc[::-1], f"ascending {asc} is not the reverse of descending {desc}")
    step("list_models full / cardData")
    full = list(call(api.list_models, search=lfs.split("/")[1], full=True, cardData=True))
    check(len(full) == 1 and full[0].id == lfs, f"full listing gave {ids(full)}")
    note("listed_sha", getattr(full[0], "sha", None))
    step("list_models anonymous hides private repos")
    private = fx["private"]["repo_id"]
    check(private not in ids(hub_api(False).list_models(author="alice")), "anonymous sees the private repo")
    check(private in ids(api.list_models(author="alice")), "the owner does not see her private repo")

    step("list_datasets search + author")
    csv_id = fx["datasets"]["csv"]["repo_id"]
    found = ids(call(api.list_datasets, author="alice", search=csv_id.split("/")[1]))
    check(found == [csv_id], f"list_datasets found {found}")

    step("model_info siblings and sha")
    main = fx["models"]["lfs"]["revisions"]["main"]
    info = api.model_info(lfs)
    check(info.sha == main["sha"], f"model_info sha {info.sha}")
    check({s.rfilename for s in info.siblings} == set(main["files"]), "siblings differ")
    step("model_info at a tag")
    v1 = fx["models"]["lfs"]["revisions"]["v1"]
    check(api.model_info(lfs, revision="v1").sha == v1["sha"], "model_info(revision=v1) sha")
    step("list_repo_files")
    check(set(api.list_repo_files(lfs)) == set(main["files"]), "list_repo_files differs")
    check(
        set(api.list_repo_files(lfs, revision="dev")) == set(fx["models"]["lfs"]["revisions"]["dev"]["files"]),
        "dev files",
    )
    step("list_repo_tree recursive")
    if hasattr(api, "list_repo_tree"):
        entries = list(call(api.list_repo_tree, lfs, recursive=True))
        files = {e.path: e for e in entries if type(e).__name__ == "RepoFile"}
        check(set(files) == set(main["files"]), f"tree lists {sorted(files)}")
        check(files["large.bin"].lfs is not None, "tree: large.bin has no lfs info")
        check(files["large.bin"].size == 12 * 1024 * 1024, "tree: large.bin size")
        top = {e.path for e in call(api.list_repo_tree, lfs)}
        check("sub" in top and "sub/small.txt" not in top, f"non-recursive tree lists {sorted(top)}")
    step("get_paths_info")
    if hasattr(api, "get_paths_info"):
        paths = {p.path: p for p in call(api.get_paths_info, lfs, ["config.json", "sub", "missing.txt"])}
        check(set(paths) == {"config.json", "sub"}, f"paths-info gave {sorted(paths)}")
    step("file_exists")
    if hasattr(api, "file_exists"):
        check(api.file_exists(lfs, "large.bin") and not api.file_exists(lfs, "nope.bin"), "file_exists")
        check(api.file_exists(lfs, "dev.txt", revision="dev"), "file_exists on a branch")


if __name__ == "__main__":
    run(main)
