"""A private repository never shows through a side door: to outsiders (anonymous, bob; a signed-up web
visitor) it is a 404 exactly like a missing one, and it is absent from every list, count and facet that
mentions repositories: search by name and by card words, tag filters, trending and likes sorts, an
author's listing, a user's likes, a repository's likers, its discussions, tag counts, tags by type, the web
listings, facets and profiles. Each check has a positive control: its owner does see it there."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.conftest import BACKENDS, Hub
from tests.web.conftest import WebClient, csrf_of

OUTSIDERS = [None, "bob"]


@dataclass
class Secret:
    hub: Hub
    repo_id: str
    word: str  # only in its card text
    tag: str  # only in its card metadata

    def get(self, path: str, user: str | None, **params: Any) -> httpx.Response:
        headers = {"authorization": f"Bearer {self.hub.tokens[user]}"} if user else {}
        return httpx.get(self.hub.url + path, headers=headers, params=params, timeout=60)

    def mentioned(self, r: httpx.Response) -> bool:
        assert r.status_code == 200, r.text
        return self.repo_id in r.text or self.tag in r.text


@pytest.fixture(scope="module", params=BACKENDS)
def secret(request: pytest.FixtureRequest) -> Iterator[Secret]:
    hub: Hub = request.getfixturevalue(f"{request.param}_hub")
    hexa = uuid.uuid4().hex[:8]
    s = Secret(hub, f"alice/hush{hexa}", f"whisper{hexa}", f"hushtag{hexa}")
    alice = hub.api("alice")
    alice.create_repo(s.repo_id, private=True)
    card = f"---\ntags:\n- {s.tag}\nlicense: mit\n---\n# Hush\n\nA {s.word} model.\n"
    alice.upload_file(path_or_fileobj=card.encode(), path_in_repo="README.md", repo_id=s.repo_id)
    alice.upload_file(path_or_fileobj=b"{}", path_in_repo="config.json", repo_id=s.repo_id)
    for _ in range(3):  # downloads, so that it trends
        httpx.get(
            f"{hub.url}/{s.repo_id}/resolve/main/config.json",
            headers={"authorization": f"Bearer {hub.tokens['alice']}"},
        )
    httpx.post(
        f"{hub.url}/api/models/{s.repo_id}/like", headers={"authorization": f"Bearer {hub.tokens['alice']}"}
    ).raise_for_status()
    alice.create_discussion(s.repo_id, f"About {s.word}", description="private talk")
    yield s


LISTINGS = [
    ("/api/models", {"search": "hush"}),  # name words by prefix
    ("/api/models", {"search": "WORD"}),  # card words
    ("/api/models", {"filter": "TAG"}),
    ("/api/models", {"author": "alice", "limit": "1000"}),
    ("/api/models", {"sort": "trendingScore", "limit": "1000"}),
    ("/api/models", {"sort": "likes", "limit": "1000"}),
    ("/api/users/alice/likes", {}),
    ("/api/haven/models/tag-counts", {"top": "1000"}),
    ("/api/haven/models/tag-counts", {"search": "WORD"}),
    ("/api/models-tags-by-type", {}),
]


def _fill(secret: Secret, params: dict[str, str]) -> dict[str, str]:
    values = {"WORD": secret.word, "TAG": secret.tag}
    return {k: values.get(v, secret.repo_id.split("/")[1] if v == "hush" else v) for k, v in params.items()}


@pytest.mark.parametrize(("path", "params"), LISTINGS, ids=[f"{p}?{'&'.join(q)}" for p, q in LISTINGS])
def test_api_lists_and_counts_leave_it_out(secret: Secret, path: str, params: dict[str, str]) -> None:
    params = _fill(secret, params)
    assert secret.mentioned(secret.get(path, "alice", **params)), "the owner must see it (positive control)"
    for caller in OUTSIDERS:
        assert not secret.mentioned(secret.get(path, caller, **params)), caller


def test_tag_counts_do_not_count_it(secret: Secret) -> None:
    counts = {
        c: secret.get("/api/haven/models/tag-counts", c, search=secret.word).json() for c in ("alice", *OUTSIDERS)
    }
    assert counts["alice"]["repos"] == 1 and counts["alice"]["tags"].get(secret.tag) == 1
    for caller in OUTSIDERS:
        assert counts[caller]["repos"] == 0 and secret.tag not in counts[caller]["tags"]


@pytest.mark.parametrize(
    "path",
    [
        "",
        "/likers",
        "/discussions",
        "/discussions/1",
        "/refs",
        "/tree/main",
        "/revision/main",
        "/commits/main",
        "/auth-check",
    ],
)
def test_api_answers_about_it_are_404(secret: Secret, path: str) -> None:
    assert secret.get(f"/api/models/{secret.repo_id}{path}", "alice").status_code == 200
    for caller in OUTSIDERS:
        r = secret.get(f"/api/models/{secret.repo_id}{path}", caller)
        assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound", (caller, r.status_code)


def test_outsiders_cannot_take_part_in_its_discussions(secret: Secret) -> None:
    r = httpx.post(
        f"{secret.hub.url}/api/models/{secret.repo_id}/discussions/1/comment",
        json={"comment": "let me in"},
        headers={"authorization": f"Bearer {secret.hub.tokens['bob']}"},
    )
    assert r.status_code == 404 and r.headers["x-error-code"] == "RepoNotFound"


@pytest.fixture
def visitor(secret: Secret) -> Iterator[WebClient]:
    """A signed-up web user who is not alice."""
    client = WebClient(secret.hub)
    client.sign_up()
    yield client
    client.http.close()


def test_web_pages_about_it_are_404(secret: Secret, visitor: WebClient) -> None:
    for path in ("", "/tree/main", "/discussions", "/discussions/1", "/blob/main/README.md"):
        assert visitor.get(f"/{secret.repo_id}{path}").status_code == 404, path
        assert httpx.get(f"{secret.hub.url}/{secret.repo_id}{path}").status_code == 404, path
    # and a form posted at it (with a valid CSRF token) finds nothing either
    token = csrf_of(visitor.get("/").text)
    r = visitor.http.post(
        f"/{secret.repo_id}/discussions", data={"csrf_token": token, "title": "x", "description": "y"}
    )
    assert r.status_code == 404
    assert visitor.http.post(f"/{secret.repo_id}/like", data={"csrf_token": token}).status_code == 404


@pytest.mark.parametrize(
    "path", ["/models?search=NAME", "/models?search=WORD", "/models?tag=TAG", "/models", "/alice", "/"]
)
def test_web_listings_facets_and_profiles_leave_it_out(secret: Secret, visitor: WebClient, path: str) -> None:
    name = secret.repo_id.split("/")[1]
    url = path.replace("NAME", name).replace("WORD", secret.word).replace("TAG", secret.tag)
    for client in (visitor, WebClient(secret.hub)):
        r = client.get(url)
        assert r.status_code == 200 and f"/{secret.repo_id}" not in r.text, url  # (a search box echoes its words)
        if "TAG" not in path:  # (a tag filter echoes its own tag)
            assert secret.tag not in r.text, url
