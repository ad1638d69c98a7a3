"""What the mirror takes from the upstream (allow/deny rules, licences, types) and who may read it locally."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from tests.mirror.conftest import ORG, Mirror, start


@pytest.mark.parametrize(
    "repo_type,repo_id",
    [
        ("model", f"{ORG}/denied-model"),  # deny glob
        ("model", f"{ORG}/gpl-model"),  # licence not in the allowed list
        ("model", f"{ORG}/missing"),  # not upstream at all
        ("model", "alice/anything"),  # outside the allowed namespaces
        ("space", f"{ORG}/lfs-model"),  # a repository type that is not mirrored
    ],
)
def test_repositories_the_rules_exclude_are_not_found(mirror: Mirror, repo_type: str, repo_id: str) -> None:
    with pytest.raises(RepositoryNotFoundError):
        mirror.hub.api("alice").repo_info(repo_id, repo_type=repo_type)


def test_private_upstream_repository_is_private_on_the_mirror(mirror: Mirror) -> None:
    repo_id = f"{ORG}/private-model"
    info = mirror.hub.api("root").model_info(repo_id)  # site admins see it
    assert info.private and info.sha == mirror.upstream.commits[repo_id]
    with pytest.raises(RepositoryNotFoundError):
        mirror.hub.api("alice").model_info(repo_id)  # alice owns it upstream, not here
    assert httpx.get(f"{mirror.hub.url}/{repo_id}/resolve/main/config.json").status_code == 404


def test_gated_upstream_repository_needs_access_granted_on_the_mirror(mirror: Mirror, tmp_path: Path) -> None:
    repo_id = f"{ORG}/gated-model"
    bob = mirror.hub.api("bob")
    assert bob.model_info(repo_id).gated == "auto"
    with pytest.raises(GatedRepoError):
        bob.hf_hub_download(repo_id, "weights.bin", cache_dir=tmp_path)
    r = httpx.post(
        f"{mirror.hub.url}/api/models/{repo_id}/ask-access",
        json={"fields": {}},
        headers={"Authorization": f"Bearer {mirror.hub.tokens['bob']}"},
    )
    assert r.status_code == 200, r.text
    path = bob.hf_hub_download(repo_id, "weights.bin", cache_dir=tmp_path)
    with open(path, "rb") as f:
        assert f.read() == mirror.upstream.files[repo_id]["weights.bin"]


def test_require_login_keeps_mirrored_repositories_from_anonymous_callers(sqlite_mirror: Mirror) -> None:
    mirror = sqlite_mirror  # one extra mirror is enough
    upstream = mirror.upstream.hub
    env = {
        "HAVEN_MIRROR_UPSTREAM": upstream.url,  # the one-upstream settings, rules as JSON lists
        "HAVEN_MIRROR_UPSTREAM_TOKEN": upstream.read_tokens["alice"],
        "HAVEN_MIRROR_ALLOW": f'["{ORG}/lfs-*", "{ORG}/data"]',
        "HAVEN_MIRROR_REQUIRE_LOGIN": "true",
        "HAVEN_BLOB_PORT": "0",
    }
    strict = start("haven-mirror-login-", env)
    try:
        repo_id = f"{ORG}/lfs-model"
        with pytest.raises(RepositoryNotFoundError):
            strict.api(None).model_info(repo_id)  # anonymous: nothing is looked up
        with pytest.raises(RepositoryNotFoundError):
            strict.api("bob").model_info(f"{ORG}/xet-model")  # not in the allow list
        assert strict.api("bob").model_info(repo_id).sha == mirror.upstream.commits[repo_id]
        with pytest.raises(RepositoryNotFoundError):  # held now, and still only for signed-in callers
            strict.api(None).model_info(repo_id)
        assert httpx.get(f"{strict.url}/{repo_id}/resolve/main/config.json").status_code == 404
    finally:
        strict.server.stop()
