"""Repository management and repo info, as HfApi sees them (protocol §3 and §4)."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from huggingface_hub import CommitOperationAdd
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.api.conftest import BIG_SIZE, Populated, git_blob_sha1, unique
from tests.conftest import Hub

HEX40 = re.compile(r"^[0-9a-f]{40}$")


# --- create_repo ---------------------------------------------------------------------------------


def test_create_repo_in_own_namespace_returns_endpoint_url(hub: Hub) -> None:
    name = unique()
    url = hub.api("alice").create_repo(name)
    assert url.repo_id == f"alice/{name}"
    assert url.repo_type == "model"
    assert str(url) == f"{hub.url}/alice/{name}"
    assert hub.api("alice").repo_exists(f"alice/{name}")


def test_create_repo_in_org_namespace_by_owner_and_writer(hub: Hub) -> None:
    by_alice = hub.api("alice").create_repo(f"acme/{unique()}")
    by_dave = hub.api("dave").create_repo(f"acme/{unique()}", repo_type="dataset")
    assert by_alice.namespace == "acme"
    assert str(by_dave).startswith(f"{hub.url}/datasets/acme/")
    assert hub.api("carol").dataset_info(by_dave.repo_id).author == "acme"


def test_create_repo_in_org_refused_for_read_member_and_outsider(hub: Hub) -> None:
    for user in ("carol", "bob"):
        with pytest.raises(HfHubHTTPError) as e:
            hub.api(user).create_repo(f"acme/{unique()}")
        assert e.value.response.status_code == 403


def test_create_private_repo_is_invisible_to_others(hub: Hub) -> None:
    repo_id = hub.api("alice").create_repo(unique(), private=True).repo_id
    assert hub.api("alice").model_info(repo_id).private is True
    assert not hub.api("bob").repo_exists(repo_id)
    assert not hub.api(None).repo_exists(repo_id)


def test_create_dataset_and_space_use_their_url_prefixes(hub: Hub) -> None:
    api = hub.api("alice")
    ds = api.create_repo(unique(), repo_type="dataset")
    space = api.create_repo(unique(), repo_type="space", space_sdk="static")
    assert str(ds) == f"{hub.url}/datasets/{ds.repo_id}"
    assert str(space) == f"{hub.url}/spaces/{space.repo_id}"
    assert api.space_info(space.repo_id).sdk == "static"


def test_create_existing_repo_with_exist_ok_returns_its_url(hub: Hub, repo_id: str) -> None:
    url = hub.api("alice").create_repo(repo_id, exist_ok=True)
    assert url.repo_id == repo_id
    assert str(url) == f"{hub.url}/{repo_id}"


def test_create_existing_repo_without_exist_ok_is_409_with_url(hub: Hub, repo_id: str) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        hub.api("alice").create_repo(repo_id)
    assert e.value.response.status_code == 409
    raw = httpx.post(
        f"{hub.url}/api/repos/create",
        json={"name": repo_id.split("/")[1], "organization": None},
        headers={"authorization": f"Bearer {hub.tokens['alice']}"},
    )
    assert raw.status_code == 409
    assert raw.json()["url"] == f"{hub.url}/{repo_id}"
    assert raw.headers["x-error-message"]


def test_create_repo_with_invalid_name_is_400(hub: Hub) -> None:
    raw = httpx.post(
        f"{hub.url}/api/repos/create",
        json={"name": "bad--name"},
        headers={"authorization": f"Bearer {hub.tokens['alice']}"},
    )
    assert raw.status_code == 400


# --- delete_repo / move_repo / settings ---------------------------------------------------------


def test_delete_repo_removes_it(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.delete_repo(repo_id)
    assert not api.repo_exists(repo_id)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(repo_id)


def test_delete_missing_repo_raises_unless_missing_ok(hub: Hub) -> None:
    api = hub.api("alice")
    with pytest.raises(RepositoryNotFoundError):
        api.delete_repo(f"alice/{unique()}")
    api.delete_repo(f"alice/{unique()}", missing_ok=True)


def test_delete_repo_needs_admin_rights(hub: Hub) -> None:
    repo_id = hub.api("alice").create_repo(f"acme/{unique()}").repo_id
    with pytest.raises(HfHubHTTPError) as e:
        hub.api("dave").delete_repo(repo_id)  # write, not admin
    assert e.value.response.status_code == 403
    assert hub.api("alice").repo_exists(repo_id)


def test_deleted_name_can_be_created_again_empty(hub: Hub, repo_id: str) -> None:
    """Nothing of the deleted repository (files, refs, likes, tags) carries over to a new one of the same name."""
    api = hub.api("alice")
    tag = unique("tag")
    card = f"---\ntags:\n- {tag}\n---\n".encode()
    api.create_commit(repo_id, [CommitOperationAdd("README.md", card)], commit_message="x")
    api.create_branch(repo_id, branch="old")
    liked = httpx.post(f"{hub.url}/api/models/{repo_id}/like", headers={"authorization": f"Bearer {hub.tokens['bob']}"})
    assert liked.status_code == 200
    api.delete_repo(repo_id)
    api.create_repo(repo_id)
    assert api.list_repo_files(repo_id) == [".gitattributes"]
    info = api.model_info(repo_id)
    assert info.likes == 0 and info.tags == [] and info.downloads == 0
    assert list(api.list_repo_likers(repo_id)) == []
    assert [b.name for b in api.list_repo_refs(repo_id).branches] == ["main"]
    assert list(api.list_models(filter=tag)) == []
    assert repo_id not in hub.api("bob").list_liked_repos("bob").models


def test_move_repo_renames_and_keeps_content(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.create_commit(repo_id, [CommitOperationAdd("kept.txt", b"kept")], commit_message="keep")
    sha = api.model_info(repo_id).sha
    target = f"acme/{unique()}"
    api.move_repo(repo_id, target)
    assert not api.repo_exists(repo_id)
    moved = api.model_info(target)
    assert moved.sha == sha
    assert moved.author == "acme"
    assert "kept.txt" in api.list_repo_files(target)


def test_move_repo_onto_existing_name_is_409(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    other = api.create_repo(unique()).repo_id
    with pytest.raises(HfHubHTTPError) as e:
        api.move_repo(repo_id, other)
    assert e.value.response.status_code == 409
    assert api.repo_exists(repo_id)


def test_move_repo_into_foreign_namespace_is_403(hub: Hub, repo_id: str) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        hub.api("alice").move_repo(repo_id, f"bob/{unique()}")
    assert e.value.response.status_code == 403
    assert hub.api("alice").repo_exists(repo_id)


def test_move_dataset(hub: Hub) -> None:
    api = hub.api("alice")
    repo_id = api.create_repo(unique(), repo_type="dataset").repo_id
    target = f"acme/{unique()}"
    api.move_repo(repo_id, target, repo_type="dataset")
    assert api.repo_exists(target, repo_type="dataset")
    assert not api.repo_exists(repo_id, repo_type="dataset")


def test_same_name_may_exist_as_model_and_dataset(hub: Hub, repo_id: str) -> None:
    url = hub.api("alice").create_repo(repo_id, repo_type="dataset")
    assert url.repo_type == "dataset" and url.repo_id == repo_id
    assert hub.api("alice").model_info(repo_id).id == hub.api("alice").dataset_info(repo_id).id


def test_update_repo_settings_visibility(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.update_repo_settings(repo_id, visibility="private")
    assert api.model_info(repo_id).private is True
    api.update_repo_settings(repo_id, visibility="public")
    assert api.model_info(repo_id).private is False


def test_update_repo_settings_private_toggles_visibility(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.update_repo_settings(repo_id, private=True)
    assert api.model_info(repo_id).private is True
    assert not hub.api("bob").repo_exists(repo_id)
    api.update_repo_settings(repo_id, private=False)
    assert api.model_info(repo_id).private is False
    assert hub.api("bob").repo_exists(repo_id)


def test_update_repo_settings_gated(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    api.update_repo_settings(repo_id, gated="auto")
    assert api.model_info(repo_id).gated == "auto"
    api.update_repo_settings(repo_id, gated=False)
    assert api.model_info(repo_id).gated is False


def test_update_repo_settings_needs_admin(hub: Hub, repo_id: str) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        hub.api("bob").update_repo_settings(repo_id, private=True)
    assert e.value.response.status_code == 403
    assert hub.api("alice").model_info(repo_id).private is False


# --- existence probes --------------------------------------------------------------------------


def test_repo_exists(hub: Hub, repo_id: str) -> None:
    api = hub.api(None)
    assert api.repo_exists(repo_id)
    assert not api.repo_exists(f"alice/{unique()}")
    assert not api.repo_exists(repo_id, repo_type="dataset")


def test_revision_exists(hub: Hub, populated: Populated) -> None:
    api = hub.api(None)
    for rev in ("main", "v1", populated.branch, populated.first, populated.head[:7]):
        assert api.revision_exists(populated.repo_id, rev), rev
    assert not api.revision_exists(populated.repo_id, "no-such-branch")
    assert not api.revision_exists(populated.repo_id, "0" * 40)
    assert not api.revision_exists(f"alice/{unique()}", "main")


def test_file_exists(hub: Hub, populated: Populated) -> None:
    api = hub.api(None)
    rid = populated.repo_id
    assert api.file_exists(rid, "config.json")
    assert api.file_exists(rid, "blobs/big.dat")  # LFS: answered with a redirect
    assert api.file_exists(rid, "dir one/b file.txt")
    assert api.file_exists(rid, "only-on-branch.txt", revision=populated.branch)
    assert not api.file_exists(rid, "only-on-branch.txt")
    assert not api.file_exists(rid, "notes.txt", revision="v1")
    assert not api.file_exists(rid, "sub")  # a folder is not a file
    assert not api.file_exists(rid, "config.json", revision="no-such-branch")
    assert not api.file_exists(f"alice/{unique()}", "config.json")


# --- repo info ---------------------------------------------------------------------------------


def _recent(dt: datetime | None) -> bool:
    return dt is not None and abs(datetime.now(UTC) - dt) < timedelta(hours=1)


def test_model_info_fields(hub: Hub, populated: Populated) -> None:
    info = hub.api(None).model_info(populated.repo_id)
    assert info.id == populated.repo_id
    assert info.author == "alice"
    assert info.sha == populated.head
    assert info.private is False
    assert info.gated is False
    assert info.disabled is False
    assert _recent(info.last_modified) and _recent(info.created_at)
    assert info.created_at <= info.last_modified
    assert isinstance(info.downloads, int) and isinstance(info.likes, int)
    assert info.library_name == "transformers"
    assert info.pipeline_tag == "text-classification"
    assert {"haven-conformance", "tiny", "transformers", "text-classification", "license:mit", "en"} <= set(info.tags)
    assert info.card_data is not None and info.card_data.license == "mit"
    assert info.card_data.tags == ["haven-conformance", "tiny"]
    assert isinstance(info.used_storage, int) and info.used_storage >= BIG_SIZE
    assert {s.rfilename for s in info.siblings} == {*populated.files, ".gitattributes"}
    assert all(s.size is None for s in info.siblings)  # sizes only with files_metadata


def test_model_info_files_metadata(hub: Hub, populated: Populated) -> None:
    info = hub.api(None).model_info(populated.repo_id, files_metadata=True)
    siblings = {s.rfilename: s for s in info.siblings}
    config = siblings["config.json"]
    assert config.size == len(populated.files["config.json"])
    assert config.blob_id == git_blob_sha1(populated.files["config.json"])
    assert config.lfs is None
    big = siblings["blobs/big.dat"]
    assert big.size == BIG_SIZE
    assert big.lfs is not None
    assert big.lfs.size == BIG_SIZE
    assert big.lfs.sha256 == hashlib.sha256(populated.big).hexdigest()
    assert 100 < big.lfs.pointer_size < 200
    assert HEX40.match(big.blob_id) and big.blob_id != big.lfs.sha256  # the pointer's git oid
    small_lfs = siblings["weights.safetensors"]  # LFS because .gitattributes says so
    assert small_lfs.lfs is not None and small_lfs.lfs.size == 2048


def test_model_info_at_revision(hub: Hub, populated: Populated) -> None:
    api = hub.api(None)
    at_tag = api.model_info(populated.repo_id, revision="v1")
    assert at_tag.sha == populated.first
    assert "notes.txt" not in {s.rfilename for s in at_tag.siblings}
    at_branch = api.model_info(populated.repo_id, revision=populated.branch)
    assert at_branch.sha == populated.branch_commit
    assert "only-on-branch.txt" in {s.rfilename for s in at_branch.siblings}
    assert api.model_info(populated.repo_id, revision=populated.first).sha == populated.first
    assert api.model_info(populated.repo_id, revision=populated.first[:8]).sha == populated.first


def test_model_info_expand_returns_only_requested_fields(hub: Hub, populated: Populated) -> None:
    info = hub.api(None).model_info(populated.repo_id, expand=["sha", "downloads"])
    assert info.sha == populated.head
    assert isinstance(info.downloads, int)
    assert info.likes is None and info.siblings is None and info.author is None


def test_new_repo_info_has_initial_commit_and_gitattributes(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    info = api.model_info(repo_id, files_metadata=True)
    assert HEX40.match(info.sha)
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]
    assert info.card_data is None or dict(info.card_data) == {} or not info.card_data.to_dict()
    assert info.tags == []
    assert info.library_name is None and info.pipeline_tag is None


def test_dataset_info_fields(hub: Hub) -> None:
    api = hub.api("alice")
    repo_id = api.create_repo(unique(), repo_type="dataset").repo_id
    card = "---\nlicense: apache-2.0\ntags:\n- tabular\n---\n# Data\n"
    api.create_commit(
        repo_id,
        [CommitOperationAdd("README.md", card.encode()), CommitOperationAdd("data/train.csv", b"a,b\n1,2\n")],
        commit_message="data",
        repo_type="dataset",
    )
    info = api.dataset_info(repo_id, files_metadata=True)
    assert info.id == repo_id and info.author == "alice"
    assert HEX40.match(info.sha)
    assert info.private is False and info.gated is False and info.disabled is False
    assert {"tabular", "license:apache-2.0"} <= set(info.tags)
    assert info.card_data.license == "apache-2.0"
    assert {s.rfilename: s.size for s in info.siblings}["data/train.csv"] == 8
    assert isinstance(info.used_storage, int)
    with pytest.raises(RepositoryNotFoundError):
        api.model_info(repo_id)  # types are separate namespaces


def test_space_info_fields(hub: Hub) -> None:
    api = hub.api("alice")
    repo_id = api.create_repo(unique(), repo_type="space", space_sdk="gradio").repo_id
    info = api.space_info(repo_id)
    assert info.id == repo_id and info.author == "alice"
    assert info.sdk == "gradio"
    assert HEX40.match(info.sha)
    assert _recent(info.last_modified)
    assert [s.rfilename for s in info.siblings] == [".gitattributes"]


def test_commit_with_invalid_readme_yaml_is_refused(hub: Hub, repo_id: str) -> None:
    """A README whose front matter is broken YAML is refused by validate-yaml before it is committed."""
    api = hub.api("alice")
    with pytest.raises(ValueError, match=r"Invalid metadata in README\.md"):
        api.create_commit(
            repo_id, [CommitOperationAdd("README.md", b"---\nfoo: [unclosed\n---\n")], commit_message="bad card"
        )
    assert "README.md" not in api.list_repo_files(repo_id)


def test_readme_change_on_main_updates_card_fields(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    card = "---\nlibrary_name: timm\npipeline_tag: image-classification\n---\n"
    api.create_commit(repo_id, [CommitOperationAdd("README.md", card.encode())], commit_message="card")
    info = api.model_info(repo_id)
    assert (info.library_name, info.pipeline_tag) == ("timm", "image-classification")
    api.create_commit(repo_id, [CommitOperationAdd("README.md", b"# no metadata\n")], commit_message="plain")
    info = api.model_info(repo_id)
    assert info.library_name is None and info.pipeline_tag is None
    assert "timm" not in info.tags


def test_repo_info_at_a_revision_describes_that_revision_card(hub: Hub, repo_id: str) -> None:
    """Card-derived fields (cardData, tags, library_name, pipeline_tag) follow the requested revision."""
    api = hub.api("alice")
    main_card = "---\nlicense: mit\nlibrary_name: transformers\npipeline_tag: fill-mask\n---\n"
    api.create_commit(repo_id, [CommitOperationAdd("README.md", main_card.encode())], commit_message="main card")
    api.create_branch(repo_id, branch="other")
    branch_card = "---\nlicense: apache-2.0\nlibrary_name: timm\npipeline_tag: image-classification\n---\n"
    api.create_commit(
        repo_id, [CommitOperationAdd("README.md", branch_card.encode())], commit_message="card", revision="other"
    )
    on_main = api.model_info(repo_id)
    assert (on_main.card_data.license, on_main.library_name, on_main.pipeline_tag) == (
        "mit",
        "transformers",
        "fill-mask",
    )
    on_branch = api.model_info(repo_id, revision="other")
    assert (on_branch.card_data.license, on_branch.library_name, on_branch.pipeline_tag) == (
        "apache-2.0",
        "timm",
        "image-classification",
    )
    assert "license:apache-2.0" in on_branch.tags and "license:mit" not in on_branch.tags
    first = api.list_repo_commits(repo_id)[-1].commit_id
    before_card = api.model_info(repo_id, revision=first)
    assert before_card.library_name is None and before_card.tags == []


def test_settings_repositories_lists_the_callers_own_repos_for_hf_repos_ls(hub: Hub, repo_id: str) -> None:
    """`hf repos ls` reads GET /api/settings/repositories: own repos with visibility; others' are absent."""
    r = httpx.get(f"{hub.url}/api/settings/repositories", headers={"authorization": f"Bearer {hub.tokens['alice']}"})
    assert r.status_code == 200
    mine = {item["id"]: item for item in r.json()}
    assert mine[repo_id]["visibility"] == "public" and mine[repo_id]["type"] == "model"
    bob = httpx.get(f"{hub.url}/api/settings/repositories", headers={"authorization": f"Bearer {hub.tokens['bob']}"})
    assert repo_id not in {item["id"] for item in bob.json()}
    assert httpx.get(f"{hub.url}/api/settings/repositories").status_code == 401
