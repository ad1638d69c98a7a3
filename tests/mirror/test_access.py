"""What the mirror takes from the upstream (allow/deny rules, licences, types) and who may read it locally."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from tests.mirror.conftest import ORG, Mirror


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
