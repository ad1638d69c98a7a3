"""Fine-grained tokens: scoped to repositories and namespaces with Hub-named permissions, optionally
expiring; out of scope they have no access at all. Created with the CLI and the web, reported by whoami
as the Hub does, listed and revoked by site admins."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from huggingface_hub import CommitOperationAdd, HfApi
from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

from tests.cli.test_admin_cli import TOKEN_RE, haven
from tests.conftest import Hub


def _token_expiring_in(hub: Hub, delay: timedelta) -> str:
    """A token of dave's that expires soon (made in-process: a CLI run may take longer than `delay`)."""
    from haven.auth import service
    from haven.config import Settings
    from haven.db import utcnow
    from haven.hub import Hub as HavenHub

    haven_hub = HavenHub.open(Settings(data_dir=hub.server.data_dir, database_url=hub.server.database_url))
    with haven_hub.db.write() as session:
        token = service.create_token(session, "dave", "soon", expires_at=utcnow() + delay)
    haven_hub.close()
    return token


def _create(hub: Hub, *args: str) -> str:
    done = haven(hub, "token", "create", *args)
    assert done.returncode == 0, done.stderr
    match = TOKEN_RE.search(done.stdout)
    assert match, done.stdout
    return match.group(0)


@pytest.fixture
def acme_repos(hub: Hub) -> dict[str, str]:
    """Two private acme models, one public one, and one public model of alice's."""
    tag = uuid.uuid4().hex[:8]
    ids = {
        "scoped": f"acme/fg{tag}-scoped",
        "other": f"acme/fg{tag}-other",
        "public": f"acme/fg{tag}-public",
        "alice": f"alice/fg{tag}",
    }
    for key, repo_id in ids.items():
        hub.api("alice").create_repo(repo_id, private=key in ("scoped", "other"))
        hub.api("alice").upload_file(path_or_fileobj=b"hello", path_in_repo="a.txt", repo_id=repo_id)
    return ids


def test_a_repo_scoped_token_works_there_and_nowhere_else(hub: Hub, acme_repos: dict[str, str]) -> None:
    scoped, other, public = acme_repos["scoped"], acme_repos["other"], acme_repos["public"]
    token = _create(hub, "dave", "--name", "ci", "--scope", f"model:{scoped}=repo.content.read,repo.write")
    api = HfApi(endpoint=hub.url, token=token)
    assert api.hf_hub_download(scoped, "a.txt", cache_dir=None) is not None
    api.create_commit(scoped, [CommitOperationAdd("ci.txt", b"ci")], commit_message="from CI")
    with pytest.raises(RepositoryNotFoundError):  # dave writes every acme repo, but not with this token
        api.model_info(other)
    with pytest.raises(HfHubHTTPError) as exc:
        api.create_commit(public, [CommitOperationAdd("x.txt", b"x")], commit_message="no")
    assert exc.value.response.status_code == 403
    assert "fine-grained" in exc.value.response.headers.get("x-error-message", "")
    assert api.model_info(public).id == public  # public repositories stay readable, as for anyone
    api.create_discussion(scoped, "hello")  # repo.write includes what discussion.write allows
    with pytest.raises(HfHubHTTPError) as exc:  # no repo.manage: no settings
        api.update_repo_settings(scoped, private=False)
    assert exc.value.response.status_code == 403
    names = {m.id for m in api.list_models(author="acme", search=scoped.split("/")[1][:8])}
    assert scoped in names and other not in names and public in names


def test_a_namespace_scoped_token_and_discussion_write(hub: Hub, acme_repos: dict[str, str]) -> None:
    token = _create(hub, "dave", "--scope", "org:acme=repo.content.read,discussion.write")
    api = HfApi(endpoint=hub.url, token=token)
    for key in ("scoped", "other"):
        assert api.model_info(acme_repos[key]).private
    pr = api.create_commit(acme_repos["other"], [CommitOperationAdd("p.txt", b"p")], commit_message="p", create_pr=True)
    assert pr.pr_num is not None
    with pytest.raises(HfHubHTTPError) as exc:  # discussion.write opens PRs, it does not commit to main
        api.create_commit(acme_repos["other"], [CommitOperationAdd("p.txt", b"p")], commit_message="direct")
    assert exc.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as exc:  # alice's namespace is not in the scope
        api.create_discussion(acme_repos["alice"], "outside")
    assert exc.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as exc:  # creating repositories needs repo.manage on the namespace
        api.create_repo(f"acme/{uuid.uuid4().hex[:8]}")
    assert exc.value.response.status_code == 403


def test_whoami_reports_the_token_as_the_hub_does(hub: Hub, acme_repos: dict[str, str], tmp_path) -> None:
    scoped = acme_repos["scoped"]
    token = _create(hub, "dave", "--name", "deploy", "--scope", f"model:{scoped}=repo.content.read",
                    "--scope", "global=discussion.write", "--expires", "30d")  # fmt: skip
    with pytest.raises(HfHubHTTPError) as exc:  # read and discuss: no commits
        HfApi(endpoint=hub.url, token=token).create_commit(
            scoped, [CommitOperationAdd("x.txt", b"x")], commit_message="no"
        )
    assert exc.value.response.status_code == 403
    info = HfApi(endpoint=hub.url, token=token).whoami()
    access = info["auth"]["accessToken"]
    assert info["name"] == "dave" and access["displayName"] == "deploy" and access["role"] == "fineGrained"
    fine = access["fineGrained"]
    assert fine["global"] == ["discussion.write"]
    assert fine["scoped"] == [
        {"entity": {"_id": fine["scoped"][0]["entity"]["_id"], "type": "model", "name": scoped},
         "permissions": ["repo.content.read"]}
    ]  # fmt: skip
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_TOKEN": token, "HF_HOME": str(tmp_path)}
    hf = str(Path(sys.executable).parent / "hf")
    done = subprocess.run([hf, "auth", "whoami"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "dave" in done.stdout


def test_an_expired_token_is_refused_with_a_clear_message(hub: Hub, acme_repos: dict[str, str]) -> None:
    token = _token_expiring_in(hub, timedelta(seconds=3))
    api = HfApi(endpoint=hub.url, token=token)
    assert api.model_info(acme_repos["other"]).id == acme_repos["other"]
    time.sleep(3)
    r = httpx.get(f"{hub.url}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert "expired" in r.headers["x-error-message"]
    with pytest.raises(HfHubHTTPError) as exc:
        api.model_info(acme_repos["public"])  # even public repositories: the credential itself is bad
    assert exc.value.response.status_code == 401
    bad = haven(hub, "token", "create", "dave", "--expires", "yesterday")
    assert bad.returncode == 1 and "Invalid expiry" in bad.stderr
    bad = haven(hub, "token", "create", "dave", "--scope", "model:acme/none=repo.fly")
    assert bad.returncode == 1 and "Unknown token permission" in bad.stderr


def test_site_admins_see_every_token_without_secrets_and_revoke(hub: Hub, acme_repos: dict[str, str]) -> None:
    name = f"seen{uuid.uuid4().hex[:6]}"
    token = _create(hub, "carol", "--name", name, "--scope", "org:acme=repo.content.read", "--expires", "7d")
    assert HfApi(endpoint=hub.url, token=token).model_info(acme_repos["scoped"]) is not None  # marks it used
    root = httpx.Client(base_url=hub.url, headers={"Authorization": f"Bearer {hub.tokens['root']}"}, timeout=30)
    r = root.get("/api/haven/tokens", params={"owner": "carol"})
    assert r.status_code == 200
    assert token not in r.text and token[3:] not in r.text
    row = next(t for t in r.json() if t["name"] == name)
    assert row["owner"] == "carol" and row["role"] == "fineGrained" and row["scopes"] == ["org:acme=repo.content.read"]
    assert row["lastUsedAt"] is not None and row["expiresAt"] is not None and row["revokedAt"] is None
    for user in ("carol", "alice"):  # the owner and an org admin are not site admins
        other = httpx.get(f"{hub.url}/api/haven/tokens", headers={"Authorization": f"Bearer {hub.tokens[user]}"})
        assert other.status_code == 403
    assert root.delete(f"/api/haven/tokens/{row['id']}").status_code == 200
    time.sleep(2.5)  # the authenticator's cache
    r = httpx.get(f"{hub.url}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    revoked = next(t for t in root.get("/api/haven/tokens", params={"owner": "carol"}).json() if t["name"] == name)
    assert revoked["revokedAt"] is not None
    listing = haven(hub, "token", "list", "--owner", "carol")  # the same view on the command line
    line = next(line for line in listing.stdout.splitlines() if f"\t{name}\t" in line)
    assert line.endswith("\trevoked") and "org:acme=repo.content.read" in line and token not in listing.stdout
    events = root.get("/api/haven/audit", params={"action": "token.revoke", "limit": 1000}).json()
    assert any(e["actor"] == "root" and e["target"] == "carol" and e["details"]["token"] == name for e in events)
    events = root.get("/api/haven/audit", params={"action": "token.create", "limit": 1000}).json()
    assert any(e["details"].get("token") == name and e["details"]["role"] == "fineGrained" for e in events)
    root.close()


def test_last_used_is_written_at_most_once_a_minute(hub: Hub, acme_repos: dict[str, str]) -> None:
    name = f"busy{uuid.uuid4().hex[:6]}"
    token = _create(hub, "carol", "--name", name)
    headers = {"Authorization": f"Bearer {token}"}
    root = {"Authorization": f"Bearer {hub.tokens['root']}"}

    def last_used() -> str | None:
        rows = httpx.get(f"{hub.url}/api/haven/tokens", params={"owner": "carol"}, headers=root).json()
        return next(t["lastUsedAt"] for t in rows if t["name"] == name)

    assert last_used() is None
    httpx.get(f"{hub.url}/api/whoami-v2", headers=headers).raise_for_status()
    first = last_used()
    assert first is not None
    time.sleep(2.5)  # past the authenticator's cache, so the token is looked up again
    for _ in range(5):
        httpx.get(f"{hub.url}/api/whoami-v2", headers=headers).raise_for_status()
    assert last_used() == first  # within the minute: not written again


def test_the_web_creates_fine_grained_tokens_and_admins_revoke_there(hub: Hub, acme_repos: dict[str, str]) -> None:
    if hub.backend != "sqlite":
        pytest.skip("the web flow is the same on both databases; once is enough")
    from tests.web.conftest import WebClient

    client = WebClient(hub)
    user = client.sign_up()
    hub.api("alice").update_repo_settings(acme_repos["alice"], private=False)
    r = client.post_form(
        "/settings/tokens",
        "/settings/tokens",
        {"action": "create", "name": "fg", "role": "fineGrained", "expires": "7d",
         "scopes": f"model:{acme_repos['alice']}=repo.content.read,discussion.write"},
    )  # fmt: skip
    token = re.search(r'<code id="new-token">([^<]+)</code>', r.text).group(1)  # type: ignore[union-attr]
    assert f"model:{acme_repos['alice']}=discussion.write,repo.content.read" in r.text
    api = HfApi(endpoint=hub.url, token=token)
    assert api.whoami()["auth"]["accessToken"]["role"] == "fineGrained"
    api.create_discussion(acme_repos["alice"], "from a scoped token")
    r = client.post_form("/settings/tokens", "/settings/tokens",
                         {"action": "create", "name": "bad", "role": "fineGrained", "scopes": f"model:{acme_repos['scoped']}=repo.content.read"})  # fmt: skip
    assert "No model named" in r.text  # a private repository the user cannot see is refused like a missing one
    client.http.close()
    admin = WebClient(hub)
    admin.http.cookies.clear()
    page = _root_page(hub, admin)
    assert user in page and "fineGrained" in page and token not in page
    row = re.search(rf'<tr data-token="(\d+)">\s*<td><a href="/{user}">', page)
    assert row, page
    admin.post_form("/admin/tokens", "/admin/tokens", {"token_id": row.group(1)})
    time.sleep(2.5)
    assert httpx.get(f"{hub.url}/api/whoami-v2", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    admin.http.close()


def _root_page(hub: Hub, admin: object) -> str:
    """Log a new site admin in on the web (created with a password by the CLI) and open the token view."""
    name, password = f"boss{uuid.uuid4().hex[:6]}", "boss password 123"
    done = haven(hub, "user", "create", name, "--password", password, "--admin")
    assert done.returncode == 0, done.stderr
    r = admin.post_form("/login", "/login", {"name": name, "password": password})  # type: ignore[attr-defined]
    assert r.status_code == 200
    return admin.get("/admin/tokens").text  # type: ignore[attr-defined]
