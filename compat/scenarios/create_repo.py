"""Create, inspect, re-create (exist_ok and conflict), change visibility and delete repositories."""
# requires: huggingface_hub

from _common import ENDPOINT, UID, call, check, create_repo, hub_api, note, raises, run, step


def main() -> None:
    api = hub_api()
    repo_id = f"alice/compat-create-{UID}"
    step("create_repo model")
    url = create_repo(api, repo_id)
    check(str(url).rstrip("/").endswith(repo_id), f"create_repo returned {url!r}")
    check(str(url).startswith(ENDPOINT), f"repo URL {url!r} is not on the endpoint")
    step("create_repo exist_ok=True")
    again = create_repo(api, repo_id, exist_ok=True)
    check(str(again) == str(url), f"exist_ok gave {again!r}, first create gave {url!r}")
    step("create_repo conflict")
    raises(("HfHubHTTPError", "HTTPError"), create_repo, api, repo_id)
    step("model_info")
    info = api.model_info(repo_id)
    check(info.id == repo_id, f"model_info id {info.id!r}")
    check(info.sha and len(info.sha) == 40, f"model_info sha {info.sha!r}")
    note("private_default", getattr(info, "private", None))
    step("repo_exists")
    if hasattr(api, "repo_exists"):
        check(api.repo_exists(repo_id), "repo_exists says no")
        check(not api.repo_exists(f"alice/missing-{UID}"), "repo_exists says yes for a missing repo")

    step("create_repo private dataset")
    ds_id = f"alice/compat-create-ds-{UID}"
    create_repo(api, ds_id, repo_type="dataset", private=True)
    check(api.dataset_info(ds_id).private is True, "dataset is not private")
    raises(("RepositoryNotFoundError",), hub_api(False).dataset_info, ds_id)
    step("make it public")
    if hasattr(api, "update_repo_settings"):
        call(api.update_repo_settings, ds_id, private=False, repo_type="dataset")
    else:
        api.update_repo_visibility(ds_id, private=False, repo_type="dataset")
    check(hub_api(False).dataset_info(ds_id).private is False, "dataset still private")

    step("create_repo in an organization")
    org_id = f"acme/compat-create-{UID}"
    create_repo(api, org_id)
    check(api.model_info(org_id).id == org_id, "org repo missing")

    step("delete_repo")
    for rid, kind in ((repo_id, None), (ds_id, "dataset"), (org_id, None)):
        call(api.delete_repo, rid, repo_type=kind)
    raises(("RepositoryNotFoundError",), api.model_info, repo_id)
    step("delete_repo missing")
    raises(("RepositoryNotFoundError", "HfHubHTTPError"), api.delete_repo, repo_id)


if __name__ == "__main__":
    run(main)
