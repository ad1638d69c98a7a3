"""The cast and repositories of the route matrix (test_route_matrix.py), built once against one server.

Everything lives in an organisation of its own (`team<tag>`), so the roles are exactly these:

    anonymous     no credentials
    reader        team member, role read              (web session / write token)
    contributor   team member, role contributor
    writer        team member, role write
    org_admin     team admin (author of the discussions, owner of the webhooks)
    other_org     admin of another organisation, no role in team
    site_admin    the server's admin (root)
    expired       the writer's token, expired
    out_of_scope  the writer's fine-grained token scoped to another repository only
    in_scope      the writer's fine-grained token scoped to the whole team organisation

Mutating routes get a target of their own per role (a branch, a tag, a group, a webhook, a repository to
delete), so that every allowed call really succeeds and no call changes what the others see.
"""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx

from tests.conftest import Hub
from tests.support import wait_for

ROLES = [
    "anonymous",
    "reader",
    "contributor",
    "writer",
    "org_admin",
    "other_org",
    "site_admin",
    "expired",
    "out_of_scope",
    "in_scope",
]
SESSION_ROLES = ["reader", "contributor", "writer", "org_admin", "other_org", "site_admin"]
REPO_TYPES = ("model", "dataset", "space")
FILE = {"model": "config.json", "dataset": "data.csv", "space": "app.py"}
CONTENT = {"model": b'{"hidden_size": 8}', "dataset": b"a,b\n1,2\n", "space": b"print('hi')\n"}
ALL_REPO_PERMS = "repo.content.read,repo.write,discussion.write,repo.manage"


@dataclass
class World:
    hub: Hub
    tag: str
    org: str
    users: dict[str, str]  # role -> user name
    tokens: dict[str, str]  # role -> bearer token
    cookies: dict[str, tuple[str, str]]  # session role -> (session cookie, csrf token)
    repos: dict[tuple[str, bool], str]  # (type, private) -> full id
    heads: dict[str, str]  # model full id -> a commit on main
    comment_ids: dict[str, str]  # full id -> id of the org admin's comment on discussion #1
    webhooks: dict[str, str]  # role -> a webhook of the org admin's, for that role's calls
    sacrificial: dict[tuple[str, bool, str], str] = field(default_factory=dict)  # (role, private, use) -> repo
    token_ids: dict[str, int] = field(default_factory=dict)  # role -> a spare token to revoke
    spare: str = ""  # a user in resource groups and access requests, holding no role
    http: httpx.Client | None = None

    def private_names(self) -> list[str]:
        return [full_id for (_, private), full_id in self.repos.items() if private]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


def build(hub: Hub) -> World:
    """Create the cast, repositories, discussions and per-role targets."""
    from huggingface_hub import CommitOperationAdd, HfApi

    tag = uuid.uuid4().hex[:8]
    org = f"team{tag}"
    users = {role: f"{role.replace('_', '')}{tag}" for role in SESSION_ROLES if role != "site_admin"}
    users["site_admin"] = "root"
    spare = f"spare{tag}"
    haven = _open(hub)
    from haven.auth import service

    with haven.db.write() as session:
        for role, name in users.items():
            if role != "site_admin":
                service.create_user(session, name, email=f"{name}@example.org")
        service.create_user(session, spare)
        service.create_org(session, org, users["org_admin"])
        for role in ("reader", "contributor", "writer"):
            service.set_member(session, org, users[role], role.replace("reader", "read").replace("writer", "write"))
        service.create_org(session, f"else{tag}", users["other_org"])
        tokens = {r: service.create_token(session, n, "matrix") for r, n in users.items() if r != "site_admin"}
    tokens["site_admin"] = hub.tokens["root"]
    admin = HfApi(endpoint=hub.url, token=tokens["org_admin"])
    repos: dict[tuple[str, bool], str] = {}
    heads: dict[str, str] = {}
    for repo_type in REPO_TYPES:
        for private in (True, False):
            full_id = f"{org}/{tag}-{repo_type}-{'private' if private else 'public'}"
            sdk = "static" if repo_type == "space" else None
            admin.create_repo(full_id, repo_type=repo_type, private=private, space_sdk=sdk)
            info = admin.create_commit(
                full_id,
                [
                    CommitOperationAdd(FILE[repo_type], CONTENT[repo_type]),
                    CommitOperationAdd("w.bin", b"\0" * 64),
                    CommitOperationAdd("docs/readme.md", b"# docs"),
                ],
                commit_message="seed",
                repo_type=repo_type,
            )
            repos[(repo_type, private)] = full_id
            heads[full_id] = info.oid
    elsewhere = f"{org}/{tag}-elsewhere"
    admin.create_repo(elsewhere, private=True)
    w = World(hub, tag, org, users, tokens, {}, repos, heads, {}, {}, spare=spare)
    w.http = httpx.Client(base_url=hub.url, timeout=60)
    _discussions(w, admin)
    _targets(w, admin)
    with haven.db.write() as session:
        _sessions(w, session)
        _fine_grained(w, session, elsewhere)
        _groups(w, session)
    haven.close()
    return w


def _open(hub: Hub):  # type: ignore[no-untyped-def]
    from haven.config import Settings
    from haven.hub import Hub as HavenHub

    return HavenHub.open(Settings(data_dir=hub.server.data_dir, database_url=hub.server.database_url))


def _discussions(w: World, admin: Any) -> None:
    """On every repository: discussion #1 with a comment, pull request #2; the admin likes the private ones."""
    from huggingface_hub import CommitOperationAdd

    for (repo_type, private), full_id in w.repos.items():
        d = admin.create_discussion(full_id, "matrix", description="first", repo_type=repo_type)
        c = admin.comment_discussion(full_id, d.num, "a comment", repo_type=repo_type)
        w.comment_ids[full_id] = c.id
        admin.create_commit(
            full_id, [CommitOperationAdd("pr.txt", b"pr")], commit_message="pr", repo_type=repo_type, create_pr=True
        )
        if private:
            plural = f"{repo_type}s"
            w.http.post(f"/api/{plural}/{full_id}/like", headers=bearer(w.tokens["org_admin"])).raise_for_status()


def _targets(w: World, admin: Any) -> None:
    """Per role: branches and tags to delete or squash, repositories to delete or move, webhooks."""
    for role in ROLES:
        for private in (True, False):
            full_id = w.repos[("model", private)]
            admin.create_branch(full_id, branch=f"del-{role}")
            admin.create_branch(full_id, branch=f"sq-{role}")
            admin.create_tag(full_id, tag=f"t-{role}")
            for use in ("delete", "move"):
                if role in ("org_admin", "site_admin"):
                    target = f"{w.org}/{unique(use)}"
                    admin.create_repo(target, private=private)
                    w.sacrificial[(role, private, use)] = target
        # A literal public address (nothing to resolve here) that is never called: the spare user, the
        # only thing watched, owns no repository, so no event ever fires.
        for key in (role, f"{role}-del"):
            hook = w.http.post(
                "/api/settings/webhooks",
                json={"url": "https://1.1.1.1/never-called", "watched": [{"type": "user", "name": w.spare}]},
                headers=bearer(w.tokens["org_admin"]),
            )
            hook.raise_for_status()
            w.webhooks[key] = hook.json()["webhook"]["id"]


def _sessions(w: World, session: Any) -> None:
    from haven.auth import sessions
    from haven.auth.service import get_account

    for role in SESSION_ROLES:
        account = get_account(session, w.users[role])
        sid = sessions.start(session, account.id, 1)
        session.flush()
        login = sessions.lookup(session, sid)
        w.cookies[role] = (sid, login.csrf_token)


def _fine_grained(w: World, session: Any, elsewhere: str) -> None:
    from haven.auth import service, tokens
    from haven.auth.scopes import parse_scope
    from haven.db import utcnow

    writer = w.users["writer"]
    scoped = tokens.resolve_scope(session, [parse_scope(f"model:{elsewhere}={ALL_REPO_PERMS}")])
    w.tokens["out_of_scope"] = service.create_token(session, writer, "elsewhere", scope=scoped)
    whole = tokens.resolve_scope(session, [parse_scope(f"org:{w.org}={ALL_REPO_PERMS}")])
    w.tokens["in_scope"] = service.create_token(session, writer, "team", scope=whole)
    w.tokens["expired"] = service.create_token(session, writer, "soon", expires_at=utcnow() + timedelta(seconds=1))
    for role in ROLES:
        service.create_token(session, w.spare, f"spare-{role}")
    session.flush()
    from sqlalchemy import select

    from haven.auth.models import Account, Token

    rows = session.execute(
        select(Token.id, Token.name).join(Account, Account.id == Token.user_id).where(Account.name == w.spare)
    ).all()
    w.token_ids = {name.removeprefix("spare-"): token_id for token_id, name in rows}


def _groups(w: World, session: Any) -> None:
    """Per role, groups to delete or take a member or repository out of (holding only the spare user)."""
    from haven.auth.permissions import Actor
    from haven.orgs import service

    operator = Actor(user_id=0, name="(tests)", is_admin=True)
    for role in ROLES:
        for prefix in ("gd", "gu", "gr", "ga"):
            name = f"{prefix}-{role}"
            service.create_group(session, operator, w.org, name)
            service.set_group_member(session, operator, w.org, name, w.spare, "read")
            service.add_group_repo(session, operator, w.org, name, "model", w.repos[("model", False)])


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def wait_until_expired(w: World) -> None:
    expired = bearer(w.tokens["expired"])
    wait_for(lambda: w.http.get("/api/whoami-v2", headers=expired).status_code == 401, 10, "the token's expiry")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()
