"""Gated repositories through the real huggingface_hub client: files need approval, metadata stays public,
and the repository's admins decide (accept, reject with a reason, cancel, grant)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import GatedRepoError, HfHubHTTPError, RepositoryNotFoundError

from tests.conftest import Hub
from tests.gated.conftest import CARD_WITH_FORM, GatedFactory

ANSWERS = {"Company": "Initech", "Use case": "research", "I agree to the licence": True}


def ask(hub: Hub, user: str, repo_id: str, fields: dict | None = None) -> httpx.Response:
    return httpx.post(
        f"{hub.url}/api/models/{repo_id}/ask-access",
        json={"fields": fields or {}},
        headers={"authorization": f"Bearer {hub.tokens[user]}"},
    )


def download(hub: Hub, repo_id: str, user: str | None, cache_dir: Path, filename: str = "weights.bin") -> bytes:
    token = hub.tokens[user] if user else False
    return Path(hf_hub_download(repo_id, filename, endpoint=hub.url, cache_dir=cache_dir, token=token)).read_bytes()


def usernames(requests: list) -> list[str]:
    return [r.username for r in requests]


def test_auto_mode_grants_access_as_soon_as_it_is_asked(hub: Hub, make_gated: GatedFactory, cache_dir: Path) -> None:
    repo_id = make_gated("auto")
    with pytest.raises(GatedRepoError) as e:
        download(hub, repo_id, None, cache_dir)
    assert e.value.response.status_code == 401
    with pytest.raises(GatedRepoError) as e:
        download(hub, repo_id, "bob", cache_dir)
    assert e.value.response.status_code == 403
    assert hub.api("bob").model_info(repo_id).gated == "auto"  # metadata stays visible
    assert "weights.bin" in hub.api("bob").list_repo_files(repo_id)

    r = ask(hub, "bob", repo_id)
    assert r.status_code == 200 and r.json() == {"status": "accepted"}
    assert download(hub, repo_id, "bob", cache_dir) == b"w" * 2048
    assert usernames(hub.api("alice").list_accepted_access_requests(repo_id)) == ["bob"]
    assert list(hub.api("alice").list_pending_access_requests(repo_id)) == []


def test_manual_mode_queues_requests_until_an_admin_accepts(
    hub: Hub, make_gated: GatedFactory, cache_dir: Path
) -> None:
    repo_id = make_gated("manual")
    assert ask(hub, "bob", repo_id).json() == {"status": "pending"}
    assert ask(hub, "bob", repo_id).json() == {"status": "pending"}  # asking twice is one request
    with pytest.raises(GatedRepoError):
        download(hub, repo_id, "bob", cache_dir)

    alice = hub.api("alice")
    [pending] = alice.list_pending_access_requests(repo_id)
    assert (pending.username, pending.status, pending.email) == ("bob", "pending", "bob@example.org")
    assert pending.request_id and pending.timestamp.tzinfo is not None
    alice.accept_access_request(repo_id, "bob")
    assert download(hub, repo_id, "bob", cache_dir) == b"w" * 2048
    assert usernames(alice.list_accepted_access_requests(repo_id)) == ["bob"]
    assert list(alice.list_pending_access_requests(repo_id)) == []


def test_rejection_carries_a_reason_and_keeps_the_files_closed(
    hub: Hub, make_gated: GatedFactory, cache_dir: Path
) -> None:
    repo_id = make_gated("manual")
    ask(hub, "bob", repo_id)
    alice = hub.api("alice")
    alice.reject_access_request(repo_id, "bob", rejection_reason="Not for commercial use")
    [rejected] = alice.list_rejected_access_requests(repo_id)
    assert rejected.username == "bob" and rejected.status == "rejected"
    assert ask(hub, "bob", repo_id).json() == {"status": "rejected"}  # asking again does not reopen it
    with pytest.raises(GatedRepoError):
        download(hub, repo_id, "bob", cache_dir)
    with pytest.raises(HfHubHTTPError) as e:  # already there
        alice.reject_access_request(repo_id, "bob", rejection_reason=None)
    assert e.value.response.status_code == 404


def test_cancel_takes_access_back_to_pending(hub: Hub, make_gated: GatedFactory, cache_dir: Path) -> None:
    repo_id = make_gated("auto")
    ask(hub, "bob", repo_id)
    assert download(hub, repo_id, "bob", cache_dir)
    alice = hub.api("alice")
    [accepted] = alice.list_accepted_access_requests(repo_id)
    alice.cancel_access_request(repo_id, request_id=accepted.request_id)
    assert usernames(alice.list_pending_access_requests(repo_id)) == ["bob"]
    with pytest.raises(GatedRepoError):
        hub.api("bob").file_exists(repo_id, "weights.bin")


def test_grant_gives_access_without_a_request(hub: Hub, make_gated: GatedFactory, cache_dir: Path) -> None:
    repo_id = make_gated("manual")
    alice = hub.api("alice")
    alice.grant_access(repo_id, "bob")
    assert download(hub, repo_id, "bob", cache_dir) == b"w" * 2048
    [granted] = alice.list_accepted_access_requests(repo_id)
    assert granted.username == "bob" and granted.email is None  # granted, not asked: no email shared
    with pytest.raises(HfHubHTTPError) as e:
        alice.grant_access(repo_id, "bob")
    assert e.value.response.status_code == 400
    with pytest.raises(HfHubHTTPError) as e:
        alice.grant_access(repo_id, "nobody-by-this-name")
    assert e.value.response.status_code == 404


def test_the_card_form_is_required_and_stored_with_the_request(hub: Hub, make_gated: GatedFactory) -> None:
    repo_id = make_gated("manual", card=CARD_WITH_FORM)
    assert ask(hub, "bob", repo_id, {"Company": "Initech"}).status_code == 400  # unanswered fields
    assert ask(hub, "bob", repo_id, {**ANSWERS, "Use case": "mischief"}).status_code == 400  # not an option
    assert ask(hub, "bob", repo_id, {**ANSWERS, "Shoe size": "44"}).status_code == 400  # not asked
    assert ask(hub, "bob", repo_id, {**ANSWERS, "I agree to the licence": False}).status_code == 400
    assert ask(hub, "bob", repo_id, ANSWERS).json() == {"status": "pending"}
    [pending] = hub.api("alice").list_pending_access_requests(repo_id)
    assert pending.fields == ANSWERS


def test_only_writers_manage_requests(hub: Hub, make_gated: GatedFactory) -> None:
    repo_id = make_gated("manual")
    ask(hub, "bob", repo_id)
    for outsider in ("bob", "carol"):  # carol reads acme's repos but this one is alice's
        with pytest.raises(HfHubHTTPError) as e:
            list(hub.api(outsider).list_pending_access_requests(repo_id))
        assert e.value.response.status_code == 403
        with pytest.raises(HfHubHTTPError) as e:
            hub.api(outsider).accept_access_request(repo_id, "bob")
        assert e.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as e:  # a read token cannot decide either
        hub.api("alice", read_only=True).accept_access_request(repo_id, "bob")
    assert e.value.response.status_code == 403
    assert usernames(hub.api("root").list_pending_access_requests(repo_id)) == ["bob"]


def test_org_members_read_their_orgs_gated_files_without_asking(hub: Hub, cache_dir: Path) -> None:
    from tests.gated.conftest import unique

    repo_id = hub.api("alice").create_repo(f"acme/{unique()}").repo_id
    hub.api("alice").upload_file(path_or_fileobj=b"org", path_in_repo="weights.bin", repo_id=repo_id)
    hub.api("alice").update_repo_settings(repo_id, gated="manual")
    with pytest.raises(GatedRepoError):
        download(hub, repo_id, "bob", cache_dir)
    assert download(hub, repo_id, "carol", cache_dir) == b"org"  # acme reader


def test_ungated_repositories_have_no_request_lists(hub: Hub, repo_id: str) -> None:
    with pytest.raises(HfHubHTTPError) as e:
        list(hub.api("alice").list_pending_access_requests(repo_id))
    assert e.value.response.status_code == 400
    assert ask(hub, "bob", repo_id).status_code == 400


def test_private_gated_repositories_stay_hidden_from_outsiders(hub: Hub, make_gated: GatedFactory) -> None:
    repo_id = make_gated("auto", private=True)
    assert ask(hub, "bob", repo_id).status_code == 404
    with pytest.raises(RepositoryNotFoundError):
        list(hub.api("bob").list_pending_access_requests(repo_id))
    with pytest.raises(RepositoryNotFoundError):
        hub.api("bob").grant_access(repo_id, "bob")
    assert not hub.api("bob").file_exists(repo_id, "weights.bin")  # the client's answer to a 404
    for user in (None, "bob"):
        headers = {"authorization": f"Bearer {hub.tokens[user]}"} if user else {}
        r = httpx.get(f"{hub.url}/{repo_id}/resolve/main/weights.bin", headers=headers)
        assert r.status_code in (401, 404) and r.headers.get("x-error-code") == "RepoNotFound"


def test_every_other_way_to_the_bytes_is_gated_too(hub: Hub, make_gated: GatedFactory) -> None:
    """LFS batch downloads (signed blob links), Xet read tokens (CAS reconstructions) and git clones."""
    repo_id = make_gated("manual")
    bob = {"authorization": f"Bearer {hub.tokens['bob']}"}
    lfs = {"operation": "download", "objects": [{"oid": "0" * 64, "size": 1}], "transfers": ["basic"]}

    def attempts() -> list[httpx.Response]:
        return [
            httpx.post(f"{hub.url}/{repo_id}.git/info/lfs/objects/batch", json=lfs, headers=bob),
            httpx.get(f"{hub.url}/api/models/{repo_id}/xet-read-token/main", headers=bob),
            httpx.get(f"{hub.url}/{repo_id}.git/info/refs?service=git-upload-pack", headers=bob),
        ]

    for r in attempts():
        assert r.status_code == 403, r.request.url
    hub.api("alice").grant_access(repo_id, "bob")
    for r in attempts():
        assert r.status_code == 200, r.request.url
