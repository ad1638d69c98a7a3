"""The audit log records security-relevant events with actor, address and time, for site admins only:
as JSON (GET /api/haven/audit) and on the admin web page."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Hub
from tests.trust.conftest import WARDEN, WARDEN_PASSWORD
from tests.web.conftest import WebClient


def _export(hub: Hub, user: str | None = "root", **params: Any) -> httpx.Response:
    headers = {"authorization": f"Bearer {hub.tokens[user]}"} if user else {}
    return httpx.get(f"{hub.url}/api/haven/audit", params=params, headers=headers)


def _events(hub: Hub, since: str, **params: Any) -> list[dict]:
    r = _export(hub, since=since, limit=1000, **params)
    assert r.status_code == 200, r.text
    return r.json()


def _now() -> str:
    return (datetime.now(UTC) - timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def web(whub: Hub) -> WebClient:
    client = WebClient(whub)
    yield client
    client.http.close()


def test_repository_changes_are_audited_with_actor_and_address(whub: Hub) -> None:
    since = _now()
    api = whub.api("alice")
    name = f"a{uuid.uuid4().hex[:10]}"
    api.create_repo(f"alice/{name}")
    api.update_repo_settings(f"alice/{name}", private=True)
    api.move_repo(f"alice/{name}", f"acme/{name}")
    api.delete_repo(f"acme/{name}")
    mine = [e for e in _events(whub, since) if name in e["target"]]
    assert [(e["action"], e["target"]) for e in mine] == [
        ("repo.create", f"model:alice/{name}"),
        ("repo.visibility", f"model:alice/{name}"),
        ("repo.move", f"model:alice/{name}"),
        ("repo.delete", f"model:acme/{name}"),
    ]
    assert {e["actor"] for e in mine} == {"alice"} and {e["ip"] for e in mine} == {"127.0.0.1"}
    assert mine[1]["details"] == {"private": True} and mine[2]["details"] == {"to": f"acme/{name}"}
    at = datetime.fromisoformat(mine[0]["at"].replace("Z", "+00:00"))
    assert abs((datetime.now(UTC) - at).total_seconds()) < 60


def test_logins_and_tokens_from_the_web_are_audited(whub: Hub, web: WebClient) -> None:
    since = _now()
    name = web.sign_up()
    web.token("read")
    page = web.get("/settings/tokens").text
    token_id = re.search(r'name="token_id" value="(\d+)"', page)
    assert token_id, page
    web.post_form("/settings/tokens", "/settings/tokens", {"action": "revoke", "token_id": token_id.group(1)})
    web.post_form("/login", "/login", {"name": name, "password": "wrong password", "next": "/"})
    web.post_form("/login", "/login", {"name": name, "password": "correct horse battery", "next": "/"})
    mine = [e for e in _events(whub, since) if e["actor"] == name]
    assert [e["action"] for e in mine] == [
        "user.signup",
        "token.create",
        "token.revoke",
        "user.login_failed",
        "user.login",
    ]
    assert mine[1]["details"] == {"token": "t", "role": "read"}
    assert all(e["ip"] == "127.0.0.1" for e in mine)


def test_member_role_changes_are_audited(whub: Hub, web: WebClient) -> None:
    since = _now()
    owner = web.sign_up()
    org = f"o{uuid.uuid4().hex[:8]}"
    web.post_form("/organizations/new", "/organizations/new", {"name": org})
    members = f"/organizations/{org}/members"
    web.post_form(members, members, {"action": "set", "user": "bob", "role": "write"})
    web.post_form(members, members, {"action": "set", "user": "bob", "role": "admin"})
    web.post_form(members, members, {"action": "remove", "user": "bob"})
    mine = [e for e in _events(whub, since) if e["target"] == f"{org}/bob"]
    assert [(e["action"], e["actor"], e["details"]) for e in mine] == [
        ("org.member_set", owner, {"role": "write"}),
        ("org.member_set", owner, {"role": "admin", "before": "write"}),
        ("org.member_remove", owner, {"before": "admin"}),
    ]


def test_webhook_changes_are_audited(whub: Hub) -> None:
    since = _now()
    api = whub.api("alice")
    hook = api.create_webhook(url="http://127.0.0.1:9/hook", watched=[{"type": "user", "name": "alice"}])
    api.update_webhook(hook.id, watched=[{"type": "user", "name": "alice"}], url="http://127.0.0.1:10/hook")
    api.disable_webhook(hook.id)
    api.enable_webhook(hook.id)
    api.delete_webhook(hook.id)
    mine = [e for e in _events(whub, since) if e["target"] == hook.id]
    assert [e["action"] for e in mine] == [
        "webhook.create",
        "webhook.update",
        "webhook.disable",
        "webhook.enable",
        "webhook.delete",
    ]
    assert mine[1]["details"] == {"url": "http://127.0.0.1:10/hook"} and {e["actor"] for e in mine} == {"alice"}


def test_only_site_admins_may_export(whub: Hub) -> None:
    assert _export(whub, None).status_code == 401
    assert _export(whub, "alice").status_code == 403
    assert _export(whub, "root").status_code == 200
    assert _export(whub, "root", since="yesterday").status_code == 400


def test_export_pages_oldest_first(whub: Hub) -> None:
    since = _now()
    api = whub.api("alice")
    for _ in range(3):
        api.create_repo(f"alice/p{uuid.uuid4().hex[:10]}")
    first = _export(whub, since=since, limit=2, action="repo.create").json()
    rest = _export(whub, since=since, after=first[-1]["id"], limit=1000, action="repo.create").json()
    ids = [e["id"] for e in first + rest]
    assert len(ids) >= 3 and ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {e["action"] for e in first + rest} == {"repo.create"}


def test_the_admin_page_lists_events_for_admins_only(whub: Hub, web: WebClient) -> None:
    whub.api("alice").create_repo(f"alice/v{uuid.uuid4().hex[:10]}")
    stranger = WebClient(whub)
    try:
        stranger.sign_up()
        assert stranger.get("/admin/audit").status_code == 403
    finally:
        stranger.http.close()
    r = web.post_form("/login", "/login", {"name": WARDEN, "password": WARDEN_PASSWORD, "next": "/admin/audit"})
    assert r.status_code == 200 and "data-audit" in r.text
    assert 'data-action="repo.create"' in r.text and 'data-action="user.login"' in r.text
    filtered = web.get("/admin/audit", params={"action": "user.login"}).text
    assert 'data-action="user.login"' in filtered and 'data-action="repo.create"' not in filtered
