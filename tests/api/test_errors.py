"""The error contract hf_raise_for_status relies on: status codes, X-Error-Code, X-Error-Message (protocol §1.7)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi, hf_hub_download
from huggingface_hub.errors import (
    BadRequestError,
    GatedRepoError,
    HfHubHTTPError,
    RemoteEntryNotFoundError,
    RepositoryNotFoundError,
    RevisionNotFoundError,
)

from tests.api.conftest import Populated, unique
from tests.conftest import Hub

INVALID_CREDENTIALS = "Invalid credentials in Authorization header"


def test_missing_repo_is_repository_not_found(hub: Hub) -> None:
    missing = f"alice/{unique()}"
    with pytest.raises(RepositoryNotFoundError):
        hub.api("alice").model_info(missing)
    with pytest.raises(RepositoryNotFoundError):
        hub.api("alice").list_repo_tree(missing).__next__()
    r = httpx.get(f"{hub.url}/api/models/{missing}")
    assert r.status_code == 404
    assert r.headers["x-error-code"] == "RepoNotFound"
    assert r.headers["x-error-message"]
    assert r.json()["error"] == r.headers["x-error-message"]
    r = httpx.head(f"{hub.url}/{missing}/resolve/main/config.json")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"


def test_private_repo_looks_missing_to_outsiders(hub: Hub) -> None:
    repo_id = hub.api("alice").create_repo(unique(), private=True).repo_id
    for api in (hub.api(None), hub.api("bob"), hub.api("carol")):
        with pytest.raises(RepositoryNotFoundError):
            api.model_info(repo_id)
    for headers in ({}, {"authorization": f"Bearer {hub.tokens['bob']}"}):
        r = httpx.get(f"{hub.url}/api/models/{repo_id}", headers=headers)
        assert r.status_code in (401, 404) and r.headers["x-error-code"] == "RepoNotFound"


def test_missing_revision_is_revision_not_found(hub: Hub, populated: Populated) -> None:
    api = hub.api(None)
    with pytest.raises(RevisionNotFoundError):
        api.model_info(populated.repo_id, revision="no-such-branch")
    with pytest.raises(RevisionNotFoundError):
        api.model_info(populated.repo_id, revision="f" * 40)
    r = httpx.get(f"{hub.url}/api/models/{populated.repo_id}/revision/nope")
    assert r.status_code == 404 and r.headers["x-error-code"] == "RevisionNotFound"


def test_missing_file_is_remote_entry_not_found(hub: Hub, populated: Populated, cache_dir: Path) -> None:
    with pytest.raises(RemoteEntryNotFoundError):
        hf_hub_download(populated.repo_id, "absent.bin", endpoint=hub.url, cache_dir=cache_dir, token=False)
    r = httpx.get(f"{hub.url}/{populated.repo_id}/resolve/main/absent.bin")
    assert r.status_code == 404
    assert r.headers["x-error-code"] == "EntryNotFound"
    assert r.headers["x-repo-commit"] == populated.head


def test_invalid_revision_name_is_bad_request(hub: Hub, populated: Populated) -> None:
    with pytest.raises(BadRequestError):
        hub.api(None).model_info(populated.repo_id, revision="a..b")


def test_invalid_token_is_401_with_the_exact_message(hub: Hub, populated: Populated) -> None:
    bogus = HfApi(endpoint=hub.url, token="hv_not_a_real_token")
    with pytest.raises(HfHubHTTPError) as e:
        bogus.model_info(populated.repo_id)
    assert e.value.response.status_code == 401
    assert not isinstance(e.value, RepositoryNotFoundError)
    assert e.value.response.headers["x-error-message"] == INVALID_CREDENTIALS
    with pytest.raises(HfHubHTTPError) as e:
        bogus.whoami()
    assert e.value.response.status_code == 401
    for header in ("Bearer hv_nope", "Basic !!!notbase64", "Token abc"):
        r = httpx.get(f"{hub.url}/api/models/{populated.repo_id}", headers={"authorization": header})
        assert r.status_code == 401, header
        assert r.headers["x-error-message"] == INVALID_CREDENTIALS
        r = httpx.head(f"{hub.url}/{populated.repo_id}/resolve/main/config.json", headers={"authorization": header})
        assert r.status_code == 401, header


def test_writing_with_a_read_token_is_403(hub: Hub, repo_id: str) -> None:
    reader = hub.api("alice", read_only=True)
    assert reader.model_info(repo_id).id == repo_id  # reading is fine
    with pytest.raises(HfHubHTTPError) as e:
        reader.create_commit(repo_id, [CommitOperationAdd("x.txt", b"x")], commit_message="x")
    assert e.value.response.status_code == 403
    for call in (
        lambda: reader.create_repo(unique()),
        lambda: reader.delete_repo(repo_id),
        lambda: reader.create_branch(repo_id, branch="b"),
        lambda: reader.create_tag(repo_id, tag="t"),
        lambda: reader.update_repo_settings(repo_id, private=True),
    ):
        with pytest.raises(HfHubHTTPError) as e:
            call()
        assert e.value.response.status_code == 403
    api = hub.api("alice")
    assert api.list_repo_files(repo_id) == [".gitattributes"]
    assert [b.name for b in api.list_repo_refs(repo_id).branches] == ["main"]
    assert api.model_info(repo_id).private is False


def test_writing_without_rights_is_403_and_anonymous_writes_are_refused(hub: Hub, repo_id: str) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        hub.api("bob").create_commit(repo_id, [CommitOperationAdd("x.txt", b"x")], commit_message="x")
    assert e.value.response.status_code == 403
    org_repo = hub.api("alice").create_repo(f"acme/{unique()}").repo_id
    with pytest.raises(HfHubHTTPError) as e:
        hub.api("carol").create_commit(org_repo, [CommitOperationAdd("x.txt", b"x")], commit_message="x")
    assert e.value.response.status_code == 403
    hub.api("dave").create_commit(org_repo, [CommitOperationAdd("x.txt", b"x")], commit_message="x")
    assert hub.api("alice").list_repo_commits(org_repo)[0].authors == ["dave"]
    r = httpx.post(
        f"{hub.url}/api/models/{repo_id}/commit/main",
        content=b'{"key": "header", "value": {"summary": "anon"}}\n',
        headers={"content-type": "application/x-ndjson"},
    )
    assert r.status_code in (401, 403)
    r = httpx.post(f"{hub.url}/api/repos/create", json={"name": unique()})
    assert r.status_code in (401, 403)


def test_existing_repo_is_409_with_url(hub: Hub, repo_id: str) -> None:
    r = httpx.post(
        f"{hub.url}/api/repos/create",
        json={"name": repo_id},
        headers={"authorization": f"Bearer {hub.tokens['alice']}"},
    )
    assert r.status_code == 409
    assert r.json()["url"] == f"{hub.url}/{repo_id}"
    assert r.json()["error"]


def test_gated_repo_metadata_is_public_but_files_are_not(hub: Hub, repo_id: str, cache_dir: Path) -> None:
    alice = hub.api("alice")
    alice.create_commit(repo_id, [CommitOperationAdd("config.json", b"{}")], commit_message="c")
    alice.update_repo_settings(repo_id, gated="manual")
    assert hub.api(None).model_info(repo_id).gated == "manual"
    assert hub.api(None).repo_exists(repo_id)
    with pytest.raises(GatedRepoError) as e:
        hf_hub_download(repo_id, "config.json", endpoint=hub.url, cache_dir=cache_dir, token=False)
    assert e.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as e:
        hf_hub_download(repo_id, "config.json", endpoint=hub.url, cache_dir=cache_dir, token=hub.tokens["bob"])
    assert e.value.response.status_code == 403
    with pytest.raises(GatedRepoError):
        hub.api("bob").file_exists(repo_id, "config.json")
    local = hf_hub_download(repo_id, "config.json", endpoint=hub.url, cache_dir=cache_dir, token=hub.tokens["alice"])
    assert Path(local).read_bytes() == b"{}"


def test_errors_echo_the_request_id(hub: Hub) -> None:
    r = httpx.get(f"{hub.url}/api/models/alice/{unique()}", headers={"x-amzn-trace-id": "trace-123"})
    assert r.status_code == 404
    assert r.headers["x-request-id"] == "trace-123"


def test_unknown_api_route_is_404_json(hub: Hub) -> None:
    r = httpx.get(f"{hub.url}/api/definitely/not/a/route/here")
    assert r.status_code == 404
    assert "error" in r.json()
