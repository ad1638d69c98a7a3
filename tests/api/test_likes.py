"""Likes: POST /like (the web button), unlike, list_repo_likers, list_liked_repos (protocol §10)."""

from __future__ import annotations

import httpx
import pytest
from huggingface_hub.errors import RepositoryNotFoundError

from tests.api.conftest import unique
from tests.conftest import Hub


def like(hub: Hub, user: str | None, repo_id: str, repo_type: str = "model") -> httpx.Response:
    headers = {"authorization": f"Bearer {hub.tokens[user]}"} if user else {}
    return httpx.post(f"{hub.url}/api/{repo_type}s/{repo_id}/like", headers=headers)


def test_like_counts_once_per_user_and_unlike_removes_it(hub: Hub, repo_id: str) -> None:
    api = hub.api("alice")
    assert like(hub, "bob", repo_id).status_code == 200
    assert like(hub, "bob", repo_id).status_code == 200  # idempotent
    assert like(hub, "carol", repo_id).status_code == 200
    assert api.model_info(repo_id).likes == 2
    hub.api("bob").unlike(repo_id)
    hub.api("bob").unlike(repo_id)  # unliking twice is harmless
    assert api.model_info(repo_id).likes == 1


def test_list_repo_likers(hub: Hub, repo_id: str) -> None:
    like(hub, "bob", repo_id)
    like(hub, "dave", repo_id)
    likers = list(hub.api(None).list_repo_likers(repo_id))
    assert sorted(u.username for u in likers) == ["bob", "dave"]
    hub.api("dave").unlike(repo_id)
    assert [u.username for u in hub.api(None).list_repo_likers(repo_id)] == ["bob"]


def test_list_liked_repos_by_type(hub: Hub) -> None:
    alice = hub.api("alice")
    model = alice.create_repo(unique()).repo_id
    dataset = alice.create_repo(unique(), repo_type="dataset").repo_id
    space = alice.create_repo(unique(), repo_type="space", space_sdk="static").repo_id
    assert like(hub, "carol", model).status_code == 200
    assert like(hub, "carol", dataset, "dataset").status_code == 200
    assert like(hub, "carol", space, "space").status_code == 200
    likes = hub.api(None).list_liked_repos("carol")
    assert likes.user == "carol"
    assert model in likes.models and dataset in likes.datasets and space in likes.spaces
    mine = hub.api("carol").list_liked_repos()  # defaults to the token's user
    assert model in mine.models
    hub.api("carol").unlike(dataset, repo_type="dataset")
    assert dataset not in hub.api(None).list_liked_repos("carol").datasets


def test_liked_private_repo_is_listed_only_to_those_who_may_see_it(hub: Hub) -> None:
    alice = hub.api("alice")
    repo_id = alice.create_repo(f"acme/{unique()}").repo_id
    assert like(hub, "carol", repo_id).status_code == 200
    alice.update_repo_settings(repo_id, private=True)
    assert repo_id in hub.api("carol").list_liked_repos("carol").models
    assert repo_id not in hub.api(None).list_liked_repos("carol").models
    assert repo_id not in hub.api("bob").list_liked_repos("carol").models


def test_liking_needs_a_user_and_a_visible_repo(hub: Hub) -> None:
    repo_id = hub.api("alice").create_repo(unique(), private=True).repo_id
    assert like(hub, None, repo_id).status_code in (401, 403)
    r = like(hub, "bob", repo_id)
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"
    with pytest.raises(RepositoryNotFoundError):
        hub.api("bob").unlike(repo_id)
    assert hub.api("alice").model_info(repo_id).likes == 0
