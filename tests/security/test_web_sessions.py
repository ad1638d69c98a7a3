"""Web sessions against cross-site and fixation attacks: every state-changing web form refuses a POST
without its session's CSRF token; a session id planted before login is never the one after it; logout
ends the session on the server; the API does not accept the session cookie (so a cross-site form cannot
drive it)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import httpx
import pytest
from huggingface_hub import HfApi

import haven.web as web_package
from haven.web import accounts, audit, community, files, gating, history, pages, repo, viewer
from tests.conftest import Hub
from tests.web.conftest import PASSWORD, WebClient, csrf_of, unique

WEB_MODULES = (pages, accounts, audit, gating, repo, files, history, community, viewer)


def web_post_paths() -> list[str]:
    """Every POST route of the web UI (model URLs; datasets and spaces share the same handlers)."""
    routes = [r for m in WEB_MODULES for r in m.router.routes] + list(web_package.tail.routes)
    return sorted({r.path for r in routes if "POST" in r.methods and not r.path.startswith(("/datasets/", "/spaces/"))})


@pytest.fixture
def member(sqlite_hub: Hub) -> Iterator[tuple[WebClient, dict[str, str]]]:
    """A signed-up user who owns an organisation, a repository and a discussion on it: real values for every
    path parameter of the web forms."""
    client = WebClient(sqlite_hub)
    user = client.sign_up()
    org = unique("o")
    assert client.post_form("/organizations/new", "/organizations/new", {"name": org}).status_code == 200
    api = HfApi(endpoint=sqlite_hub.url, token=client.token())
    api.create_repo(f"{user}/m")
    api.upload_file(path_or_fileobj=b"# m\n", path_in_repo="README.md", repo_id=f"{user}/m")
    api.create_discussion(f"{user}/m", "hello", description="first")
    params = {"namespace": user, "name": "m", "org": org, "num:int": "1", "rev:seg": "main", "path:fpath": "README.md"}
    yield client, params
    client.http.close()


def test_every_web_form_refuses_a_post_without_the_csrf_token(member: tuple[WebClient, dict[str, str]]) -> None:
    client, params = member
    paths = web_post_paths()
    assert len(paths) >= 15  # the enumeration found the forms (login, tokens, repo settings, discussions, ...)
    for template in paths:
        path = template
        for key, value in params.items():
            path = path.replace("{" + key + "}", value)
        assert "{" not in path, f"no test value for a parameter of {template}"
        for data in ({}, {"csrf_token": "x" * 43}):
            r = client.http.post(path, data=data, follow_redirects=False)
            assert r.status_code == 403 and "CSRF" in r.text, (template, data, r.status_code)


def test_a_session_id_planted_before_login_is_replaced(sqlite_hub: Hub) -> None:
    victim = WebClient(sqlite_hub)
    name = victim.sign_up()
    victim.post_form("/", "/logout", {})
    planted_session, planted_csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    # as a sibling site could plant them (in the jar slot the server's own cookies use)
    victim.http.cookies.set("haven_session", planted_session, domain="127.0.0.1", path="/")
    victim.http.cookies.set("haven_csrf", planted_csrf, domain="127.0.0.1", path="/")
    login_page = victim.get("/login")
    assert csrf_of(login_page.text) == planted_csrf  # a visitor's token is whatever the cookie says...
    r = victim.http.post("/login", data={"csrf_token": planted_csrf, "name": name, "password": PASSWORD})
    assert r.status_code == 200 and f'href="/{name}"' in r.text
    session_after = victim.http.cookies["haven_session"]
    assert session_after != planted_session  # ...but the login opens a session with a fresh id
    session_csrf = csrf_of(victim.get("/").text)
    assert session_csrf != planted_csrf  # and a fresh CSRF token: the planted one is useless now
    refused = victim.http.post("/settings/tokens", data={"csrf_token": planted_csrf, "action": "create", "name": "t"})
    assert refused.status_code == 403
    attacker = httpx.Client(base_url=sqlite_hub.url, cookies={"haven_session": planted_session})
    assert attacker.get("/settings/tokens", follow_redirects=False).status_code == 303  # to the login page


def test_logout_ends_the_session_on_the_server(sqlite_hub: Hub) -> None:
    client = WebClient(sqlite_hub)
    client.sign_up()
    stolen_session, stolen_csrf = client.http.cookies["haven_session"], csrf_of(client.get("/").text)
    client.post_form("/", "/logout", {})
    replay = httpx.Client(base_url=sqlite_hub.url, cookies={"haven_session": stolen_session})
    r = replay.post("/settings/tokens", data={"csrf_token": stolen_csrf, "action": "create", "name": "t"})
    assert r.status_code == 403  # no session: the token belongs to nobody
    assert replay.get("/settings/tokens", follow_redirects=False).status_code == 303


def test_the_api_ignores_the_session_cookie(sqlite_hub: Hub) -> None:
    client = WebClient(sqlite_hub)
    user = client.sign_up()
    r = client.http.post("/api/repos/create", json={"name": "via-cookie", "type": "model"})
    assert r.status_code == 403 and "must be authenticated" in r.json()["error"]  # the caller is anonymous
    assert client.http.get("/api/whoami-v2").status_code == 401
    assert client.get(f"/{user}/via-cookie").status_code == 404
