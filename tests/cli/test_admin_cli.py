"""Haven's own admin CLI (`haven user|org|token ...`) run as subprocesses beside a running server."""

from __future__ import annotations

import re
import subprocess
import uuid

import httpx
import pytest

from tests.conftest import Hub
from tests.support import HAVEN, wait_for

TOKEN_RE = re.compile(r"hv_[A-Za-z0-9_-]{20,}")
CACHED = 6.0  # seconds: the server caches tokens and their memberships for about 2 s; a little longer


def haven(hub: Hub, *args: str) -> subprocess.CompletedProcess[str]:
    """`haven ARGS --data-dir DIR` with the server's environment (its database URL on PostgreSQL)."""
    env = {k: v for k, v in hub.server.env.items() if k != "HAVEN_DATA_DIR"}  # --data-dir alone must do
    return subprocess.run(
        [*HAVEN, *args, "--data-dir", str(hub.server.data_dir)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def ok(hub: Hub, *args: str) -> str:
    proc = haven(hub, *args)
    assert proc.returncode == 0, f"haven {' '.join(args)} exited {proc.returncode}: {proc.stderr}"
    return proc.stdout


def fails(hub: Hub, *args: str) -> str:
    """The command must exit 1 with a one-line error, not a traceback; returns that line."""
    proc = haven(hub, *args)
    assert proc.returncode == 1, f"haven {' '.join(args)} exited {proc.returncode}: {proc.stdout}{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.stdout == ""
    return proc.stderr.strip()


def whoami(hub: Hub, token: str) -> httpx.Response:
    return httpx.get(f"{hub.url}/api/whoami-v2", headers={"authorization": f"Bearer {token}"}, timeout=10)


def new_name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def new_user(hub: Hub) -> tuple[str, str]:
    name = new_name("u")
    ok(hub, "user", "create", name, "--email", f"{name}@example.org")
    return name, ok(hub, "token", "create", name).strip()


def test_user_create_and_token_create(hub: Hub) -> None:
    name = new_name("u")
    proc = haven(hub, "user", "create", name, "--email", f"{name}@example.org")
    assert proc.returncode == 0 and proc.stdout == ""  # the message goes to stderr
    out = ok(hub, "token", "create", name, "--name", "laptop")
    assert TOKEN_RE.fullmatch(out.strip()), out  # only the token, nothing else
    assert out.count("\n") == 1
    me = whoami(hub, out.strip())
    assert me.status_code == 200
    body = me.json()
    assert body["name"] == name
    assert body["orgs"] == []
    assert body["auth"]["accessToken"] == {"displayName": "laptop", "role": "write"}

    # A fresh user with a write token can create a repository on the running server.
    api = hub.api(None)
    api.token = out.strip()
    api.create_repo(f"{name}/first")
    assert hub.api("alice").model_info(f"{name}/first").author == name


def test_read_token_cannot_write(sqlite_hub: Hub) -> None:
    hub = sqlite_hub  # token roles do not depend on the database
    name, write_token = new_user(hub)
    read_token = ok(hub, "token", "create", name, "--role", "read").strip()
    assert TOKEN_RE.fullmatch(read_token)
    assert whoami(hub, read_token).json()["auth"]["accessToken"]["role"] == "read"
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    HfApi(endpoint=hub.url, token=write_token).create_repo(f"{name}/repo")
    reader = HfApi(endpoint=hub.url, token=read_token)
    assert reader.model_info(f"{name}/repo").id == f"{name}/repo"
    with pytest.raises(HfHubHTTPError) as exc:
        reader.create_repo(f"{name}/other")
    assert exc.value.response.status_code == 403
    with pytest.raises(HfHubHTTPError) as exc:
        reader.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{name}/repo")
    assert exc.value.response.status_code == 403


def test_token_revoke_takes_effect_on_the_running_server(hub: Hub) -> None:
    name, token = new_user(hub)
    other = ok(hub, "token", "create", name, "--name", "other").strip()
    assert whoami(hub, token).status_code == 200  # now cached by the server
    proc = haven(hub, "token", "revoke", token)
    assert proc.returncode == 0 and proc.stdout == ""
    assert token not in proc.stderr
    wait_for(lambda: whoami(hub, token).status_code == 401, CACHED, "the token cache to catch up")
    assert whoami(hub, other).status_code == 200  # the user's other tokens still work
    assert "no such active token" in fails(hub, "token", "revoke", token)  # already revoked


def test_org_create_and_members(hub: Hub) -> None:
    owner, owner_token = new_user(hub)
    member, member_token = new_user(hub)
    org = new_name("org")
    proc = haven(hub, "org", "create", org, "--owner", owner)
    assert proc.returncode == 0 and proc.stdout == ""
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    owner_api = HfApi(endpoint=hub.url, token=owner_token)
    member_api = HfApi(endpoint=hub.url, token=member_token)
    assert [o["name"] for o in owner_api.whoami()["orgs"]] == [org]
    assert owner_api.whoami()["orgs"][0]["roleInOrg"] == "admin"
    owner_api.create_repo(f"{org}/private-model", private=True)
    owner_api.upload_file(path_or_fileobj=b"secret", path_in_repo="s.txt", repo_id=f"{org}/private-model")
    assert member_api.repo_exists(f"{org}/private-model") is False

    ok(hub, "org", "add-member", org, member, "--role", "read")
    wait_for(lambda: member_api.repo_exists(f"{org}/private-model"), CACHED, "the token cache to catch up")
    assert member_api.whoami()["orgs"] == [
        {"type": "org", "name": org, "fullname": org, "roleInOrg": "read"},
    ]
    with pytest.raises(HfHubHTTPError) as exc:
        member_api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{org}/private-model")
    assert exc.value.response.status_code == 403

    ok(hub, "org", "add-member", org, member, "--role", "write")  # changes the existing role

    def can_write() -> bool:
        try:
            member_api.upload_file(path_or_fileobj=b"x", path_in_repo="x.txt", repo_id=f"{org}/private-model")
        except HfHubHTTPError as err:
            assert err.response.status_code == 403
            return False
        return True

    wait_for(can_write, CACHED, "the token cache to catch up")
    assert "x.txt" in owner_api.list_repo_files(f"{org}/private-model")


def test_errors_are_one_line(sqlite_hub: Hub) -> None:
    hub = sqlite_hub  # the messages do not depend on the database
    name = new_name("u")
    ok(hub, "user", "create", name)
    assert "already taken" in fails(hub, "user", "create", name)
    assert "already taken" in fails(hub, "user", "create", "acme")  # an organisation's name
    assert "Invalid namespace" in fails(hub, "user", "create", "bad name")
    assert "No user named" in fails(hub, "token", "create", "nobody-" + name)
    assert "read or write" in fails(hub, "token", "create", name, "--role", "admin")
    assert "No user named" in fails(hub, "org", "create", new_name("org"), "--owner", "nobody-" + name)
    assert "already taken" in fails(hub, "org", "create", name, "--owner", name)
    assert "role must be one of" in fails(hub, "org", "add-member", "acme", name, "--role", "boss")
    assert "No organisation named" in fails(hub, "org", "add-member", name, name)
    assert "No user named" in fails(hub, "org", "add-member", "acme", "nobody-" + name)
