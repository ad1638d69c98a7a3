"""What the mirror takes from the upstream (allow/deny rules, licences, types) and who may read it locally."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError

from tests.conftest import BACKENDS
from tests.mirror.conftest import ORG, Mirror, Upstream, start
from tests.support import Postgres
from tests.web.conftest import WebClient


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


@pytest.mark.parametrize("backend", BACKENDS)
def test_require_login_keeps_mirrored_repositories_out_of_anonymous_listings(
    upstream: Upstream, postgres: Postgres | None, backend: str
) -> None:
    if backend == "postgres" and postgres is None:
        pytest.skip("PostgreSQL is not installed")
    env = {
        "HAVEN_MIRROR_UPSTREAM": upstream.hub.url,
        "HAVEN_MIRROR_UPSTREAM_TOKEN": upstream.hub.read_tokens["alice"],
        "HAVEN_MIRROR_ALLOW": f'["{ORG}/lfs-*"]',
        "HAVEN_MIRROR_REQUIRE_LOGIN": "true",
        "HAVEN_BLOB_PORT": "0",
    }
    strict = start(f"haven-mirror-listings-{backend}-", env, postgres if backend == "postgres" else None)
    anonymous, signed_in = WebClient(strict), WebClient(strict)
    try:
        mirrored, local = f"{ORG}/lfs-model", "alice/local-lfs-model"
        assert strict.api("bob").model_info(mirrored).sha == upstream.commits[mirrored]  # mirrored now
        strict.api("alice").create_repo(local)
        signed_in.sign_up()
        for api, sees in ((strict.api(None), False), (strict.api("bob"), True)):
            listings = {
                "all": {m.id for m in api.list_models()},
                "search": {m.id for m in api.list_models(search="lfs-model")},
                "author": {m.id for m in api.list_models(author=ORG)},
                "trending": {m.id for m in api.list_models(sort="trending_score")},
            }
            for name, ids in listings.items():
                assert (mirrored in ids) is sees, (name, ids)
            assert local in listings["all"] and local in listings["search"]
        for page in ("/models", "/models?search=lfs-model", f"/models?author={ORG}", "/"):
            assert mirrored not in anonymous.get(page).text, page
            assert mirrored in signed_in.get(page).text, page
        assert f"author={ORG}" not in anonymous.get("/models").text  # the author facet
        assert f"author={ORG}" in signed_in.get("/models").text
        assert _model_count(anonymous.get("/").text) == _model_count(signed_in.get("/").text) - 1  # home counts
    finally:
        anonymous.http.close()
        signed_in.http.close()
        strict.server.stop()


def _model_count(home: str) -> int:
    found = re.search(r'<a href="/models"><strong>(\d+)</strong> models</a>', home)
    assert found, "no model count on the home page"
    return int(found.group(1))
