"""Resource groups: a named set of an organisation's repositories whose members get a role there only,
on top of their organisation role. Managed by org admins over the API, the CLI and the web."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.cli.test_admin_cli import haven
from tests.conftest import Hub

CACHE_TTL = 2.5  # the server caches a token's roles this long


def _http(hub: Hub, user: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {hub.tokens[user]}"} if user else {}
    return httpx.Client(base_url=hub.url, headers=headers, timeout=30)


@pytest.fixture
def two_private_repos(hub: Hub) -> tuple[str, str]:
    tag = uuid.uuid4().hex[:8]
    ids = (f"acme/rg{tag}-in", f"acme/rg{tag}-out")
    for repo_id in ids:
        hub.api("alice").create_repo(repo_id, private=True)
    return ids


def test_a_group_gives_its_members_its_role_on_its_repositories_only(
    hub: Hub, two_private_repos: tuple[str, str]
) -> None:
    inside, outside = two_private_repos
    group = f"g{uuid.uuid4().hex[:8]}"
    base = "/api/organizations/acme/resource-groups"
    with _http(hub, "alice") as alice:
        assert alice.post(base, json={"name": group, "description": "ml team"}).status_code == 200
        r = alice.post(f"{base}/{group}/users", json={"users": [{"user": "bob", "role": "write"}]})
        assert r.status_code == 200, r.text
        r = alice.post(f"{base}/{group}/repos", json={"type": "model", "name": inside})
        assert r.json()["repos"] == [{"type": "model", "name": inside}]
        assert r.json()["users"] == [{"user": "bob", "role": "write"}]
        listed = alice.get(base).json()
        assert group in [g["name"] for g in listed]
    time.sleep(CACHE_TTL)
    bob = hub.api("bob")
    assert bob.model_info(inside).id == inside
    bob.create_commit(inside, [CommitOperationAdd("by-bob.txt", b"b")], commit_message="bob writes")
    with pytest.raises(RepositoryNotFoundError):
        bob.model_info(outside)
    names = [m.id for m in bob.list_models(author="acme", search=inside.split("/")[1][:10])]
    assert inside in names and outside not in names
    with pytest.raises(HfHubHTTPError) as exc:  # write, not admin
        bob.update_repo_settings(inside, private=False)
    assert exc.value.response.status_code == 403
    # carol reads every acme repository; the group makes her a writer of `inside` only (the higher role wins)
    with _http(hub, "alice") as alice:
        alice.post(f"{base}/{group}/users", json={"users": [{"user": "carol", "role": "write"}]}).raise_for_status()
        assert alice.delete(f"{base}/{group}/users/bob").status_code == 200
    time.sleep(CACHE_TTL)
    hub.api("carol").create_commit(inside, [CommitOperationAdd("c.txt", b"c")], commit_message="carol writes")
    with pytest.raises(HfHubHTTPError) as exc:
        hub.api("carol").create_commit(outside, [CommitOperationAdd("c.txt", b"c")], commit_message="no")
    assert exc.value.response.status_code == 403
    with pytest.raises(RepositoryNotFoundError):  # out of the group: bob sees nothing again
        bob.model_info(inside)


def test_only_org_admins_manage_groups(hub: Hub, two_private_repos: tuple[str, str]) -> None:
    base = "/api/organizations/acme/resource-groups"
    with _http(hub, "dave") as dave, _http(hub, "bob") as bob, _http(hub, None) as anon:
        assert dave.post(base, json={"name": "mine"}).status_code == 403  # acme writer
        assert dave.get(base).status_code == 403
        assert bob.post(base, json={"name": "mine"}).status_code == 404  # not in acme
        assert anon.get(base).status_code == 401
    with _http(hub, "alice") as alice:
        assert alice.post(base, json={"name": ""}).status_code == 400
        r = alice.post(f"{base}/nope/repos", json={"type": "model", "name": "alice/whatever"})
        assert r.status_code == 404
        group = f"g{uuid.uuid4().hex[:8]}"
        alice.post(base, json={"name": group}).raise_for_status()
        assert alice.post(base, json={"name": group}).status_code == 409
        # only the organisation's own repositories join its groups
        hub.api("alice").create_repo(f"alice/{group}")
        r = alice.post(f"{base}/{group}/repos", json={"type": "model", "name": f"alice/{group}"})
        assert r.status_code == 404
        r = alice.post(f"{base}/{group}/users", json={"users": [{"user": "bob", "role": "owner"}]})
        assert r.status_code == 400
        assert alice.delete(f"{base}/{group}").status_code == 200
        assert alice.get(f"{base}/{group}").status_code == 404


def test_the_cli_manages_groups(hub: Hub, two_private_repos: tuple[str, str]) -> None:
    inside, _ = two_private_repos
    group = f"cli{uuid.uuid4().hex[:6]}"
    for args in (
        ("org", "group", "create", "acme", group, "--description", "from the CLI"),
        ("org", "group", "add-member", "acme", group, "bob", "--role", "contributor"),
        ("org", "group", "add-repo", "acme", group, f"model:{inside}"),
    ):
        done = haven(hub, *args)
        assert done.returncode == 0, done.stderr
    listing = haven(hub, "org", "group", "list", "acme")
    line = next(line for line in listing.stdout.splitlines() if line.startswith(group))
    assert "bob:contributor" in line and f"model:{inside}" in line
    bad = haven(hub, "org", "group", "add-member", "acme", group, "bob", "--role", "boss")
    assert bad.returncode == 1 and "role must be one of" in bad.stderr
    time.sleep(CACHE_TTL)
    bob = hub.api("bob")  # a contributor through the group: opens a PR, cannot commit
    pr = bob.create_commit(inside, [CommitOperationAdd("p.txt", b"p")], commit_message="p", create_pr=True)
    assert pr.pr_num is not None
    with pytest.raises(HfHubHTTPError) as exc:
        bob.create_commit(inside, [CommitOperationAdd("p.txt", b"p")], commit_message="direct")
    assert exc.value.response.status_code == 403
    with _http(hub, "root") as root:
        for action in ("org.group_create", "org.group_member_set", "org.group_repo_add"):
            events = root.get("/api/haven/audit", params={"limit": 1000, "action": action}).json()
            assert any(group in e["target"] and e["actor"] == "(cli)" for e in events), action


def test_the_web_page_manages_groups(sqlite_hub: Hub) -> None:
    from tests.web.conftest import WebClient, unique

    admin, outsider = WebClient(sqlite_hub), WebClient(sqlite_hub)
    owner, member = admin.sign_up(), outsider.sign_up()
    org = unique("org")
    admin.post_form("/organizations/new", "/organizations/new", {"name": org})
    repo_id = f"{org}/{unique('m')}"
    HfApi(endpoint=sqlite_hub.url, token=admin.token()).create_repo(repo_id, private=True)
    page = f"/organizations/{org}/resource-groups"
    for form in (
        {"action": "create", "group": "vision", "description": "image models"},
        {"action": "set-user", "group": "vision", "user": member, "role": "read"},
        {"action": "add-repo", "group": "vision", "type": "model", "repo": repo_id},
    ):
        r = admin.post_form(page, page, form)
        assert r.status_code == 200, r.text
    html = admin.get(page).text
    assert 'data-group="vision"' in html and f"{member} — read" in html and repo_id in html
    r = admin.post_form(page, page, {"action": "add-repo", "group": "vision", "type": "model", "repo": "nobody/x"})
    assert r.status_code == 404
    r = admin.post_form(page, page, {"action": "create", "group": "vision"})  # a duplicate: the page says why
    assert r.status_code == 409 and "already has a resource group" in r.text
    time.sleep(CACHE_TTL)
    assert outsider.get(f"/{repo_id}").status_code == 200  # the group lets the member read the private repo
    assert outsider.get(page).status_code == 404  # and nothing more
    admin.post_form(page, page, {"action": "remove-user", "group": "vision", "user": member})
    assert outsider.get(f"/{repo_id}").status_code == 404
    assert owner in admin.get(f"/organizations/{org}/members").text
    admin.http.close()
    outsider.http.close()
