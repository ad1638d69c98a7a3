"""Every route of the app against every role, over real HTTP against one real server.

The routes are read from `create_app().routes`: a route without an entry in CASES fails
`test_every_route_has_a_matrix_entry`, so nothing new ships unchecked. Each entry names the rule that
guards the route (KINDS below) and how to call it; `expect()` turns rule x role x visibility into the
outcome the server must give:

    ok       anything but 401/403/404 and 5xx (a 400 or 409 is fine: the caller got past the guard)
    hidden   404: the repository (or webhook, organisation) does not exist for this caller
    denied   403 (401 or a login redirect for callers without credentials)
    unauth   401 (or a login redirect on the web)
    refused  a signed or CAS route called without its signature: 400-404, never a success

Every answer to a caller who may not read the private repositories is also searched for their names:
listings, search, likes, profiles and PR lists must not leak them. The roles are described in
matrix_world.py; web routes see a browser session, so token-only roles are anonymous there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import Hub
from tests.security.matrix_world import (
    FILE,
    ROLES,
    World,
    b64,
    bearer,
    build,
    unique,
    wait_until_expired,
)

READ, CONTRIBUTE, WRITE, ADMIN = "read", "contribute", "write", "admin"
NEED = {READ: 1, CONTRIBUTE: 2, WRITE: 3, ADMIN: 4}
RANK = {"reader": 1, "contributor": 2, "writer": 3, "org_admin": 4, "site_admin": 4, "in_scope": 3}
TOKEN_ONLY = {"anonymous", "expired", "out_of_scope", "in_scope"}
FINE_GRAINED = {"out_of_scope", "in_scope"}
ANON_CSRF = "c" * 43


def may(role: str, perm: str, private: bool) -> bool:
    """The rule of haven.auth.permissions.can, restated for the cast."""
    if perm == READ and not private:
        return True
    if role in ("anonymous", "expired", "out_of_scope"):
        return False
    if perm == CONTRIBUTE and not private:
        return True  # anyone signed in, on public repositories
    return RANK.get(role, 0) >= NEED[perm]


def _repo_rule(perm: str) -> Callable[[str, bool], str]:
    def rule(role: str, private: bool) -> str:
        if not may(role, READ, private):
            return "hidden"
        return "ok" if may(role, perm, private) else "denied"

    return rule


def _acting(role: str, private: bool) -> str:
    """Likes and access requests: a write of the caller's own, on a repository they can read."""
    if not may(role, READ, private):
        return "hidden"
    return "denied" if role in ("anonymous", "out_of_scope") else "ok"


def _moderate(role: str, private: bool) -> str:
    """Renaming or closing a discussion: its author (the org admin) or a writer."""
    if not may(role, READ, private):
        return "hidden"
    return "ok" if may(role, WRITE, private) else "denied"


def _author(role: str, private: bool) -> str:
    if not may(role, READ, private):
        return "hidden"
    return "ok" if role == "org_admin" else "denied"


def _signed_in(role: str, private: bool) -> str:
    return "unauth" if role == "anonymous" else "ok"


def _webhooks(role: str, private: bool) -> str:
    if role == "anonymous":
        return "unauth"
    return "denied" if role in FINE_GRAINED else "ok"


def _own_webhook(role: str, private: bool) -> str:
    if role == "anonymous":
        return "unauth"
    if role in FINE_GRAINED:
        return "denied"
    return "ok" if role == "org_admin" else "hidden"


def _site_admin(role: str, private: bool) -> str:
    if role == "anonymous":
        return "unauth"
    return "ok" if role == "site_admin" else "denied"


def _org_admin(role: str, private: bool) -> str:
    if role == "anonymous":
        return "unauth"
    if role in ("org_admin", "site_admin"):
        return "ok"
    return "hidden_or_denied" if role == "other_org" else "denied"


def _org_member(role: str, private: bool) -> str:
    if role == "anonymous":
        return "unauth"
    return "hidden" if role == "other_org" else "ok"


def _create_in_org(role: str, private: bool) -> str:
    return "ok" if role in ("writer", "org_admin", "site_admin", "in_scope") else "denied"


KINDS: dict[str, Callable[[str, bool], str]] = {
    "read": _repo_rule(READ),
    "contribute": _repo_rule(CONTRIBUTE),
    "write": _repo_rule(WRITE),
    "admin": _repo_rule(ADMIN),
    "acting": _acting,
    "moderate": _moderate,
    "author": _author,
    "open": lambda role, private: "ok",
    "static": lambda role, private: "ok",  # reads no credentials at all
    "signed": lambda role, private: "refused",
    "any": lambda role, private: "answered",  # a login form: any answer but a server error
    "absent": lambda role, private: "absent",  # this type of repository has no such page
    "signed_in": _signed_in,
    "webhooks": _webhooks,
    "own_webhook": _own_webhook,
    "site_admin": _site_admin,
    "org_admin": _org_admin,
    "org_member": _org_member,
    "create_in_org": _create_in_org,
}
REPO_KINDS = {"read", "contribute", "write", "admin", "acting", "moderate", "author"}


def expect(kind: str, role: str, private: bool, web: bool) -> str:
    if web and role in TOKEN_ONLY:
        role = "anonymous"  # the web reads its session cookie, never a bearer token
    if role == "expired":
        return {"static": "ok", "signed": "refused", "any": "answered"}.get(kind, "unauth")
    outcome = KINDS[kind](role, private)
    if role == "anonymous" and outcome == "hidden":
        # Without credentials, "log in first" (git and LFS: 401 so that they ask for credentials) says no more
        # than a 404: missing repositories get the same answer.
        return "hidden_or_login"
    return outcome


# --- calling a route ------------------------------------------------------------------------------------------


@dataclass
class Call:
    """One request to make: path parameters to override, and a body."""

    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | None = None
    content: bytes | None = None
    query: dict[str, str] | None = None
    files: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    fresh_session: bool = False  # logging out ends the session: give it one of its own


@dataclass
class Ctx:
    w: World
    role: str
    private: bool
    repo_type: str
    full_id: str

    @property
    def plural(self) -> str:
        return f"{self.repo_type}s"

    @property
    def name(self) -> str:
        return f"{self.role}-{'p' if self.private else 'o'}"


@dataclass
class Case:
    kind: str
    call: Callable[[Ctx], Call] = lambda c: Call()
    repo: bool = True  # run against the private and the public repository of the route's type
    web: bool = False


def ndjson(*lines: dict[str, Any]) -> bytes:
    import orjson

    return b"\n".join(orjson.dumps(line) for line in lines)


def _commit(c: Ctx) -> Call:
    body = ndjson(
        {"key": "header", "value": {"summary": f"by {c.role}"}},
        {"key": "file", "value": {"path": f"{c.name}.txt", "content": b64(b"x"), "encoding": "base64"}},
    )
    return Call(content=body, headers={"content-type": "application/x-ndjson"})


def _pr_commit(c: Ctx) -> Call:
    call = _commit(c)
    call.query = {"create_pr": "1"}
    return call


def _sacrificial(use: str) -> Callable[[Ctx], str]:
    def target(c: Ctx) -> str:
        return c.w.sacrificial.get((c.role, c.private, use), c.full_id)

    return target


def _lfs_upload(c: Ctx) -> Call:
    return Call(json={"operation": "upload", "objects": [{"oid": "a" * 64, "size": 3}], "transfers": ["basic"]})


def _group(prefix: str) -> Callable[[Ctx], Call]:
    return lambda c: Call(params={"group": f"{prefix}-{c.role}"})


OID = "0" * 64
STATIC_FILE = "haven.css"
API = "/api/{repo_type}/{namespace}/{name}"
G = "/api/organizations/{org}/resource-groups"

CASES: dict[str, Case] = {
    # FastAPI's own pages
    "GET /api/openapi.json": Case("static", repo=False),
    "GET /api/docs": Case("static", repo=False),
    "GET /docs/oauth2-redirect": Case("static", repo=False),
    # inference: running a model is reading it
    "POST /v1/chat/completions": Case(
        "read", lambda c: Call(json={"model": c.full_id, "messages": [{"role": "user", "content": "hi"}]})
    ),
    "POST /models/{namespace}/{name}/v1/chat/completions": Case(
        "read", lambda c: Call(json={"messages": [{"role": "user", "content": "hi"}]})
    ),
    "POST /v1/embeddings": Case("read", lambda c: Call(json={"model": c.full_id, "input": "hi"})),
    "POST /models/{namespace}/{name}": Case("read", lambda c: Call(json={"inputs": "hi"})),
    "POST /models/{namespace}/{name}/revision/{revision}": Case("read", lambda c: Call(json={"inputs": "hi"})),
    "POST /models/{namespace}/{name}/pipeline/{task}": Case(
        "read", lambda c: Call(params={"task": "text-classification"}, json={"inputs": "hi"})
    ),
    "POST /pipeline/{task}/{namespace}/{name}": Case(
        "read", lambda c: Call(params={"task": "text-classification"}, json={"inputs": "hi"})
    ),
    "GET /api/inference/stats": Case("static", repo=False),  # reads credentials only once models ran
    # the dataset viewer's API
    **{
        f"GET /datasets-server/{endpoint}": Case(
            "read",
            lambda c: Call(query={"dataset": c.full_id, "config": "default", "split": "train", "query": "a"}),
        )
        for endpoint in (
            "is-valid",
            "splits",
            "info",
            "parquet",
            "size",
            "first-rows",
            "rows",
            "search",
            "filter",
            "statistics",
        )
    },
    "GET /datasets-server/assets": Case("read", lambda c: Call(query={"dataset": c.full_id, "path": "x.png"})),
    "POST /datasets-server/sql": Case("read", lambda c: Call(json={"dataset": c.full_id, "sql": "SELECT 1"})),
    # accounts and repositories
    "GET /api/health": Case("static", repo=False),
    "GET /api/ready": Case("static", repo=False),
    "GET /metrics": Case("static", repo=False),  # route templates only; HAVEN_METRICS_TOKEN can close it
    "GET /api/agent-harnesses": Case("static", repo=False),
    "GET /api/whoami-v2": Case("signed_in", repo=False),
    "POST /api/repos/create": Case(
        "create_in_org",
        lambda c: Call(json={"name": unique("n"), "organization": c.w.org, "private": True}),
        repo=False,
    ),
    "DELETE /api/repos/delete": Case("admin", lambda c: Call(json={"name": _sacrificial("delete")(c)})),
    "POST /api/repos/move": Case(
        "admin",
        lambda c: Call(json={"fromRepo": _sacrificial("move")(c), "toRepo": f"{c.w.org}/{unique('m')}"}),
    ),
    f"PUT {API}/settings": Case("admin", lambda c: Call(json={"gated": False})),
    f"GET {API}": Case("read"),
    f"GET {API}/revision/{{revision}}": Case("read"),
    f"DELETE {API}/like": Case("acting"),
    f"POST {API}/like": Case("acting"),
    f"GET {API}/likers": Case("read"),
    "GET /api/users/{user}/likes": Case("open", lambda c: Call(params={"user": c.w.users["org_admin"]}), repo=False),
    f"GET {API}/auth-check": Case("read"),
    f"GET {API}/auth-check/write": Case("write"),
    "GET /api/settings/repositories": Case("signed_in", repo=False),
    "GET /api/organizations/{org}/settings/repositories": Case("org_member", repo=False),
    # gated access requests
    f"GET {API}/user-access-request/{{status}}": Case("write", lambda c: Call(params={"status": "pending"})),
    f"POST {API}/user-access-request/handle": Case(
        "write", lambda c: Call(json={"user": c.w.spare, "status": "accepted"})
    ),
    f"POST {API}/user-access-request/grant": Case("write", lambda c: Call(json={"user": c.w.spare})),
    f"POST {API}/ask-access": Case("acting", lambda c: Call(json={})),
    # webhooks: the caller's own
    "GET /api/settings/webhooks": Case("webhooks", repo=False),
    "POST /api/settings/webhooks": Case(
        "webhooks",
        lambda c: Call(json={"url": "https://1.1.1.1/never-called", "watched": [{"type": "user", "name": c.w.spare}]}),
        repo=False,
    ),
    **{
        f"{method} /api/settings/webhooks/{{webhook_id}}{suffix}": Case(
            "own_webhook",
            lambda c, method=method, body=body: Call(
                params={"webhook_id": c.w.webhooks[c.role + ("-del" if method == "DELETE" else "")]}, json=body
            ),
            repo=False,
        )
        for method, suffix, body in (
            ("GET", "", None),
            ("POST", "", {"url": "https://1.1.1.1/never-called-either"}),
            ("POST", "/enable", None),
            ("POST", "/disable", None),
            ("DELETE", "", None),
            ("GET", "/deliveries", None),
        )
    },
    # site admins
    "GET /api/haven/audit": Case("site_admin", repo=False),
    "GET /api/haven/tokens": Case("site_admin", repo=False),
    "DELETE /api/haven/tokens/{token_id}": Case(
        "site_admin", lambda c: Call(params={"token_id": str(c.w.token_ids[c.role])}), repo=False
    ),
    # resource groups: org admins
    f"GET {G}": Case("org_admin", repo=False),
    f"POST {G}": Case("org_admin", lambda c: Call(json={"name": unique("g")}), repo=False),
    f"GET {G}/{{group}}": Case("org_admin", _group("ga"), repo=False),
    f"DELETE {G}/{{group}}": Case("org_admin", _group("gd"), repo=False),
    f"POST {G}/{{group}}/users": Case(
        "org_admin",
        lambda c: Call(params={"group": f"ga-{c.role}"}, json={"users": [{"user": c.w.spare, "role": "write"}]}),
        repo=False,
    ),
    f"DELETE {G}/{{group}}/users/{{user}}": Case(
        "org_admin", lambda c: Call(params={"group": f"gu-{c.role}", "user": c.w.spare}), repo=False
    ),
    f"POST {G}/{{group}}/repos": Case(
        "org_admin",
        lambda c: Call(params={"group": f"ga-{c.role}"}, json={"type": "model", "name": c.w.repos[("model", True)]}),
        repo=False,
    ),
    f"DELETE {G}/{{group}}/repos/{{repo_type}}/{{namespace}}/{{name}}": Case(
        "org_admin",
        lambda c: Call(
            params={
                "group": f"gr-{c.role}",
                "repo_type": "model",
                "namespace": c.w.org,
                "name": c.w.repos[("model", False)].split("/")[1],
            }
        ),
        repo=False,
    ),
    # listings
    "GET /api/models": Case("open", lambda c: Call(query={"search": c.w.tag, "full": "true"}), repo=False),
    "GET /api/datasets": Case("open", lambda c: Call(query={"search": c.w.tag}), repo=False),
    "GET /api/spaces": Case("open", lambda c: Call(query={"author": c.w.org}), repo=False),
    "GET /api/{plural}-tags-by-type": Case("open", lambda c: Call(params={"plural": "models"}), repo=False),
    "GET /api/haven/{plural}/tag-counts": Case(
        "open", lambda c: Call(params={"plural": "models"}, query={"search": c.w.tag}), repo=False
    ),
    # commits and uploads
    "POST /api/validate-yaml": Case(
        "static", lambda c: Call(json={"content": "license: mit\n", "repoType": "model"}), repo=False
    ),
    f"POST {API}/preupload/{{revision}}": Case(
        "write", lambda c: Call(json={"files": [{"path": "a.bin", "size": 3, "sample": ""}]})
    ),
    f"POST {API}/commit/{{revision}}": Case("write", _commit),
    # discussions and pull requests
    f"GET {API}/discussions": Case("read"),
    f"POST {API}/discussions": Case("contribute", lambda c: Call(json={"title": f"by {c.role}", "description": "d"})),
    f"GET {API}/discussions/{{num}}": Case("read"),
    f"POST {API}/discussions/{{num}}/comment": Case("contribute", lambda c: Call(json={"comment": "hello"})),
    f"POST {API}/discussions/{{num}}/comment/{{comment_id}}/edit": Case(
        "author", lambda c: Call(params={"comment_id": c.w.comment_ids[c.full_id]}, json={"content": "edited"})
    ),
    f"POST {API}/discussions/{{num}}/comment/{{comment_id}}/hide": Case(
        "write", lambda c: Call(params={"comment_id": c.w.comment_ids[c.full_id]}, json={})
    ),
    f"POST {API}/discussions/{{num}}/title": Case("moderate", lambda c: Call(json={"title": "renamed"})),
    f"POST {API}/discussions/{{num}}/status": Case("moderate", lambda c: Call(json={"status": "open"})),
    f"POST {API}/discussions/{{num}}/merge": Case("write", lambda c: Call(params={"num": "2"}, json={})),
    # trees, refs, branches and tags
    f"GET {API}/tree/{{revision}}": Case("read"),
    f"GET {API}/tree/{{revision}}/{{path}}": Case("read", lambda c: Call(params={"path": "docs"})),
    f"POST {API}/paths-info/{{revision}}": Case("read", lambda c: Call(data={"paths": FILE[c.repo_type]})),
    f"GET {API}/refs": Case("read"),
    f"GET {API}/commits/{{revision}}": Case("read"),
    f"POST {API}/branch/{{branch}}": Case("write", lambda c: Call(params={"branch": f"nb-{c.name}"}, json={})),
    f"DELETE {API}/branch/{{branch}}": Case("write", lambda c: Call(params={"branch": f"del-{c.role}"})),
    f"POST {API}/tag/{{revision}}": Case("write", lambda c: Call(json={"tag": f"nt-{c.name}"})),
    f"DELETE {API}/tag/{{tag}}": Case("write", lambda c: Call(params={"tag": f"t-{c.role}"})),
    f"POST {API}/super-squash/{{branch}}": Case(
        "write", lambda c: Call(params={"branch": f"sq-{c.role}"}, json={"message": "squash"})
    ),
    # git, LFS and Xet
    "POST /{namespace}/{name}.git/info/lfs/objects/batch": Case("write", _lfs_upload),
    "PUT /_lfs/upload": Case("signed", lambda c: Call(content=b"abc"), repo=False),
    "PUT /_lfs/part": Case("signed", lambda c: Call(content=b"abc"), repo=False),
    "POST /_lfs/complete": Case("signed", lambda c: Call(json={}), repo=False),
    "POST /_lfs/verify": Case("signed", lambda c: Call(json={"oid": OID, "size": 1}), repo=False),
    f"GET {API}/xet-read-token/{{revision}}": Case("read"),
    f"GET {API}/xet-write-token/{{revision}}": Case("write"),
    **{
        f"{method} {path}": Case(
            "signed",
            lambda c: Call(params={"prefix": "default", "xorb": OID, "file_id": OID, "chunk": OID}, content=b"x"),
            repo=False,
        )
        for method, path in (
            ("HEAD", "/_xet/xorbs/{prefix}/{xorb}"),
            ("HEAD", "/_xet/v1/xorbs/{prefix}/{xorb}"),
            ("POST", "/_xet/xorbs/{prefix}/{xorb}"),
            ("POST", "/_xet/v1/xorbs/{prefix}/{xorb}"),
            ("POST", "/_xet/shards"),
            ("POST", "/_xet/v1/shards"),
            ("POST", "/_xet/v2/shards"),
            ("POST", "/_xet/v1/xorb-grants/{prefix}/{xorb}"),
            ("GET", "/_xet/v2/reconstructions/{file_id}"),
            ("GET", "/_xet/reconstructions/{file_id}"),
            ("GET", "/_xet/v1/reconstructions/{file_id}"),
            ("POST", "/_xet/v1/reconstructions"),
            ("HEAD", "/_xet/v1/files/{file_id}"),
            ("GET", "/_xet/chunks/{prefix}/{chunk}"),
            ("GET", "/_xet/v1/chunks/{prefix}/{chunk}"),
            ("GET", "/_xet/xorbs/{xorb}"),
        )
    },
    # hf_xet's telemetry sink: accepts anything from anyone, stores nothing
    "POST /_xet/v1/telemetry": Case("static", lambda c: Call(json={}), repo=False),
    "POST /v1/telemetry": Case("static", lambda c: Call(json={}), repo=False),
    "GET /{namespace}/{name}/info/refs": Case("read", lambda c: Call(query={"service": "git-upload-pack"})),
    "POST /{namespace}/{name}/git-upload-pack": Case(
        "read", lambda c: Call(content=b"0000", headers={"content-type": "application/x-git-upload-pack-request"})
    ),
    # Pushing needs the right to contribute; which refs a contributor may move (refs/pr/N only) is the push
    # checks' business (tests/discussions/test_git_push.py).
    "POST /{namespace}/{name}/git-receive-pack": Case(
        "contribute",
        lambda c: Call(content=b"0000", headers={"content-type": "application/x-git-receive-pack-request"}),
    ),
    "POST /{namespace}/{name}.git/info/lfs/locks/verify": Case("contribute", lambda c: Call(json={})),
    "GET /{namespace}/{name}.git/info/lfs/locks": Case("read"),
    "POST /{namespace}/{name}.git/info/lfs/locks": Case("write", lambda c: Call(json={"path": "a"})),
    "POST /{namespace}/{name}.git/info/lfs/locks/{lock_id}/unlock": Case(
        "write", lambda c: Call(params={"lock_id": "1"}, json={})
    ),
    "GET /{namespace}/{name}/resolve/{revision}/{path}": Case("read"),
    "GET /_blobs/{oid}": Case("signed", lambda c: Call(params={"oid": OID}), repo=False),
    # the web
    "GET /": Case("open", repo=False, web=True),
    "GET /models": Case("open", lambda c: Call(query={"search": c.w.tag}), repo=False, web=True),
    "GET /datasets": Case("open", lambda c: Call(query={"search": c.w.tag}), repo=False, web=True),
    "GET /spaces": Case("open", lambda c: Call(query={"search": c.w.tag}), repo=False, web=True),
    "GET /login": Case("open", repo=False, web=True),
    "POST /login": Case("any", lambda c: Call(data={"name": "nobody", "password": "wrong"}), repo=False, web=True),
    "POST /logout": Case("open", lambda c: Call(data={}, fresh_session=True), repo=False, web=True),
    "GET /signup": Case("open", repo=False, web=True),
    "POST /signup": Case(
        "open",
        lambda c: Call(
            data={"name": unique("s"), "email": "s@example.org", "password": "p" * 12, "password2": "p" * 12}
        ),
        repo=False,
        web=True,
    ),
    "GET /settings/tokens": Case("signed_in", repo=False, web=True),
    "POST /settings/tokens": Case(
        "signed_in", lambda c: Call(data={"action": "create", "name": "w", "role": "read"}), repo=False, web=True
    ),
    "GET /organizations/new": Case("signed_in", repo=False, web=True),
    "POST /organizations/new": Case("signed_in", lambda c: Call(data={"name": unique("o")}), repo=False, web=True),
    "GET /organizations/{org}/members": Case("org_admin", repo=False, web=True),
    "POST /organizations/{org}/members": Case(
        "org_admin", lambda c: Call(data={"action": "set", "user": c.w.spare, "role": "read"}), repo=False, web=True
    ),
    "GET /organizations/{org}/resource-groups": Case("org_admin", repo=False, web=True),
    "POST /organizations/{org}/resource-groups": Case(
        "org_admin", lambda c: Call(data={"action": "create", "group": unique("wg")}), repo=False, web=True
    ),
    "GET /admin/audit": Case("site_admin", repo=False, web=True),
    "GET /admin/tokens": Case("site_admin", repo=False, web=True),
    "POST /admin/tokens": Case(
        "site_admin", lambda c: Call(data={"token_id": str(c.w.token_ids[c.role])}), repo=False, web=True
    ),
    "POST /{namespace}/{name}/ask-access": Case("acting", lambda c: Call(data={}), web=True),
    "POST /{namespace}/{name}/settings/access-requests": Case(
        "write", lambda c: Call(data={"action": "accept", "request_id": "nope"}), web=True
    ),
    "GET /{namespace}/{name}": Case("read", web=True),
    "POST /{namespace}/{name}/like": Case("acting", lambda c: Call(data={"liked": "1"}), web=True),
    "POST /{namespace}/{name}/widget": Case("read", lambda c: Call(data={"inputs": "hi"}), web=True),
    "GET /{namespace}/{name}/settings": Case("admin", web=True),
    "POST /{namespace}/{name}/settings": Case(
        "admin",
        lambda c: Call(data={"action": "visibility", "visibility": "private" if c.private else "public"}),
        web=True,
    ),
    "GET /new": Case("signed_in", repo=False, web=True),
    "POST /new": Case("signed_in", lambda c: Call(data={"name": unique("r"), "type": "model"}), repo=False, web=True),
    "GET /{namespace}/{name}/tree/{rev}": Case("read", web=True),
    "GET /{namespace}/{name}/tree/{rev}/{path}": Case("read", web=True),
    "GET /{namespace}/{name}/blob/{rev}/{path}": Case("read", web=True),
    "GET /{namespace}/{name}/upload/{rev}": Case("write", web=True),
    "POST /{namespace}/{name}/upload/{rev}": Case(
        "write", lambda c: Call(data={"summary": "up"}, files={"files": ("u.txt", b"u")}), web=True
    ),
    "GET /{namespace}/{name}/edit/{rev}/{path}": Case("write", web=True),
    "POST /{namespace}/{name}/edit/{rev}/{path}": Case(
        "write", lambda c: Call(params={"path": f"{c.name}.md"}, data={"content": "x", "summary": "edit"}), web=True
    ),
    "GET /{namespace}/{name}/commits/{rev}": Case("read", web=True),
    "GET /{namespace}/{name}/commit/{sha}": Case("read", web=True),
    "GET /{namespace}/{name}/compare": Case("read", web=True),
    "GET /{namespace}/{name}/compare/{spec}": Case("read", lambda c: Call(params={"spec": "main...main"}), web=True),
    "GET /{namespace}/{name}/discussions": Case("read", web=True),
    "POST /{namespace}/{name}/discussions": Case(
        "contribute", lambda c: Call(data={"title": f"web {c.role}", "description": "d"}), web=True
    ),
    "GET /{namespace}/{name}/discussions/{num}": Case("read", web=True),
    "GET /{namespace}/{name}/discussions/{num}/files": Case("read", lambda c: Call(params={"num": "2"}), web=True),
    "POST /{namespace}/{name}/discussions/{num}/comment": Case(
        "contribute", lambda c: Call(data={"comment": "c"}), web=True
    ),
    "POST /{namespace}/{name}/discussions/{num}/hide": Case(
        "write", lambda c: Call(data={"comment_id": c.w.comment_ids[c.full_id]}), web=True
    ),
    "POST /{namespace}/{name}/discussions/{num}/status": Case(
        "moderate", lambda c: Call(data={"status": "open"}), web=True
    ),
    "POST /{namespace}/{name}/discussions/{num}/merge": Case(
        "write", lambda c: Call(params={"num": "2"}, data={}), web=True
    ),
    "GET /{namespace}/{name}/viewer": Case("read", web=True),
    "GET /{namespace}/{name}/viewer/assets": Case("read", lambda c: Call(query={"path": "x.png"}), web=True),
    "GET /{namespace}/{name}/viewer/sql": Case("read", lambda c: Call(query={"sql": "SELECT 1"}), web=True),
    "GET /{account}": Case("open", lambda c: Call(params={"account": c.w.org}), repo=False, web=True),
    "GET /static": Case("static", repo=False, web=True),
}
# Pages that exist for some repository types only: the others answer 404 to everyone.
ABSENT = {
    ("model", "GET /{namespace}/{name}/viewer"),
    ("model", "GET /{namespace}/{name}/viewer/assets"),
    ("space", "GET /{namespace}/{name}/viewer"),
    ("space", "GET /{namespace}/{name}/viewer/assets"),
    ("model", "GET /{namespace}/{name}/viewer/sql"),
    ("space", "GET /{namespace}/{name}/viewer/sql"),
    ("dataset", "POST /{namespace}/{name}/widget"),
    ("space", "POST /{namespace}/{name}/widget"),
}


# --- the routes -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Route:
    method: str
    path: str  # as declared, converters stripped: /datasets/{namespace}/{name}/viewer

    @property
    def repo_type(self) -> str:
        for prefix, repo_type in (("/datasets/{namespace}", "dataset"), ("/spaces/{namespace}", "space")):
            if self.path.startswith(prefix):
                return repo_type
        return "dataset" if self.path.startswith("/datasets-server/") else "model"

    @property
    def key(self) -> str:
        """The CASES key: the three repository-type variants of a path share one entry."""
        path = re.sub(r"^/(datasets|spaces)(/\{namespace\})", r"\2", self.path)
        return f"{self.method} {path.replace('/api/{repo_type}/{namespace}/{name}', API)}"


def app_routes() -> list[Route]:
    """Every (method, path) the application answers, read from the app itself."""
    from haven.app import create_app
    from haven.config import Settings
    from tests.support import tempdir

    app = create_app(Settings(data_dir=tempdir("haven-routes-")))
    found: set[Route] = set()

    def walk(routes: list[Any]) -> Iterator[tuple[set[str], str]]:
        for r in routes:
            inner = getattr(r, "original_router", None)
            if inner is not None:
                yield from walk(inner.routes)
            else:
                yield set(getattr(r, "methods", None) or {"GET"}), r.path

    for methods, path in walk(app.router.routes):
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", path)
        for method in methods - {"HEAD"} or {"HEAD"}:
            found.add(Route(method, path))
    return sorted(found, key=lambda r: (r.path, r.method))


ROUTES = app_routes()


def test_every_route_has_a_matrix_entry() -> None:
    missing = [f"{r.method} {r.path}" for r in ROUTES if r.key not in CASES]
    assert missing == [], "routes without an access-matrix entry (add them to CASES):\n" + "\n".join(missing)
    stale = set(CASES) - {r.key for r in ROUTES}
    assert stale == set(), f"CASES entries for routes that no longer exist: {sorted(stale)}"


# --- running it -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def world(sqlite_hub: Hub) -> Iterator[World]:
    w = build(sqlite_hub)
    wait_until_expired(w)
    yield w
    assert w.http is not None
    w.http.close()


def _url(route: Route, ctx: Ctx, call: Call) -> str:
    namespace, _, name = ctx.full_id.partition("/")
    values = {
        "repo_type": ctx.plural,
        "namespace": namespace,
        "name": name,
        "revision": "main",
        "rev": "main",
        "path": FILE[ctx.repo_type],
        "num": "1",
        "org": ctx.w.org,
        "sha": ctx.w.heads.get(ctx.full_id, "0" * 40),
        **call.params,
    }
    if route.path == "/static":  # the static files' mount
        return "/static/" + STATIC_FILE
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], route.path)


def _send(w: World, route: Route, ctx: Ctx, call: Call, web: bool) -> httpx.Response:
    assert w.http is not None
    headers = dict(call.headers)
    cookies: dict[str, str] = {}
    data = call.data
    role = ctx.role
    csrf = ANON_CSRF
    if not web:
        headers.update(bearer(w.tokens.get(role)))
    elif role in w.cookies:
        sid, csrf = _fresh_session(w, role) if call.fresh_session else w.cookies[role]
        cookies["haven_session"] = sid
    else:  # a visitor's CSRF cookie, and the token (which the web ignores) of token-only roles
        cookies["haven_csrf"] = csrf
        headers.update(bearer(w.tokens.get(role)))
    if web and data is not None:
        data = {"csrf_token": csrf, **data}
    if web:
        headers.setdefault("accept", "text/html")
    w.http.cookies.clear()  # only the cookies of this caller, sent as a browser would
    if cookies:
        headers["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
    return w.http.request(
        route.method,
        _url(route, ctx, call),
        headers=headers,
        json=call.json,
        data=data,
        content=call.content,
        params=call.query,
        files=call.files,
    )


def _fresh_session(w: World, role: str) -> tuple[str, str]:
    from haven.auth import sessions
    from haven.auth.service import get_account
    from tests.security.matrix_world import _open

    haven = _open(w.hub)
    with haven.db.write() as session:
        sid = sessions.start(session, get_account(session, w.users[role]).id, 1)
        session.flush()
        csrf = sessions.lookup(session, sid).csrf_token
    haven.close()
    return sid, csrf


def _judge(outcome: str, r: httpx.Response) -> bool:
    status = r.status_code
    to_login = status in (302, 303) and "/login" in r.headers.get("location", "")
    if outcome == "ok":  # 501 (LFS locks) and 503 (viewer not ready) are answers past the guard
        return (status < 500 or status in (501, 503)) and status not in (401, 403, 404) and not to_login
    if outcome == "hidden":
        return status == 404
    if outcome == "hidden_or_login":
        return status in (401, 403, 404) or to_login
    if outcome == "answered":
        return status < 500
    if outcome == "hidden_or_denied":
        return status in (403, 404)
    if outcome == "unauth":
        return status == 401 or to_login
    if outcome == "denied":
        return status == 403 or status == 401 or to_login
    if outcome == "refused":
        return 400 <= status <= 405
    if outcome == "absent":
        return status == 404
    raise AssertionError(outcome)


def _targets(route: Route, case: Case, w: World) -> list[tuple[bool, str]]:
    if not case.repo:
        return [(False, "")]
    return [(private, w.repos[(route.repo_type, private)]) for private in (True, False)]


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{r.method} {r.path}")
def test_route_against_every_role(world: World, route: Route) -> None:
    case = CASES.get(route.key)
    if case is None:
        pytest.fail("no matrix entry (see test_every_route_has_a_matrix_entry)")
    web = case.web
    kind = "absent" if (route.repo_type, route.key) in ABSENT else case.kind
    leaks = world.private_names()
    wrong = []
    for private, full_id in _targets(route, case, world):
        for role in ROLES:
            ctx = Ctx(world, role, private, route.repo_type, full_id)
            call = case.call(ctx)
            outcome = expect(kind, role, private, web)
            r = _send(world, route, ctx, call, web)
            problem = None if _judge(outcome, r) else f"expected {outcome}"
            can_read_private = expect("read", role, True, web) == "ok"
            if problem is None and not can_read_private and not (case.repo and private):
                seen = [name for name in leaks if name in r.text]
                problem = f"leaks {seen}" if seen else None
            if problem:
                vis = "private" if private else "public" if case.repo else "-"
                message = r.headers.get("x-error-message") or r.text[:120]
                wrong.append(f"{role:>12} {vis:>7}: {r.status_code} ({problem}) {message!r}")
    assert wrong == [], f"{route.method} {route.path}\n" + "\n".join(wrong)
