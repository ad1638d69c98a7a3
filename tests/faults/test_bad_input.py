"""Bad input at the boundary: repository and account names, file paths in commits, revisions, malformed bodies.

Everything invalid is a 400 (or a 404 naming the missing thing), never a 500, and never changes a repository.
"""

from __future__ import annotations

import uuid
from urllib.parse import quote as urlquote

import httpx
import pytest

from tests.conftest import Hub
from tests.faults.conftest import add, add_lfs, auth, commit, delete, download, files, head, quote, sha256

# --- repository and account names ---------------------------------------------------------------------------

BAD_NAMES = {
    "dot-dot": "..",
    "inner-dot-dot": "a..b",
    "double-dash": "a--b",
    "too-long": "x" * 97,
    "git-suffix": "model.git",
    "ipynb-suffix": "notebook.ipynb",
    "leading-dash": "-model",
    "leading-dot": ".model",
    "trailing-dash": "model-",
    "trailing-dot": "model.",
    "space": "my model",
    "non-ascii": "modèle",
    "slash-inside": "b/c",
    "semicolon": "a;b",
    "percent": "a%2Fb",
    "empty": "",
}


@pytest.mark.parametrize("name", list(BAD_NAMES.values()), ids=list(BAD_NAMES))
def test_invalid_repo_names_are_refused(hub: Hub, http: httpx.Client, name: str) -> None:
    r = http.post("/api/repos/create", json={"name": name, "organization": "alice"}, headers=auth(hub))
    assert r.status_code == 400, r.text
    assert "x-error-message" in r.headers


@pytest.mark.parametrize(
    "template", ["{u}" + "x" * 86, "a-b_c.d{u}", "A{u}", "0{u}", "name{u}.gitx", "api", "datasets"]
)
def test_valid_repo_names_are_accepted(hub: Hub, http: httpx.Client, template: str) -> None:
    """Reserved words are reserved as namespaces only: alice/api is a fine repository."""
    name = template.format(u=uuid.uuid4().hex[:10]) if "{u}" in template else f"{template}"
    r = http.post("/api/repos/create", json={"name": name, "organization": "alice"}, headers=auth(hub))
    if r.status_code == 409 and "{u}" not in template:
        return  # created by an earlier run of this test on the same server
    assert r.status_code == 200, r.text
    assert r.json()["name"] == f"alice/{name}"


def test_invalid_name_through_the_move_endpoint(hub: Hub, http: httpx.Client, shared_repo: str) -> None:
    for target in ("alice/a..b", "alice/x.git", "alice", "alice/b/c", "alice/" + "y" * 97):
        r = http.post("/api/repos/move", json={"fromRepo": shared_repo, "toRepo": target}, headers=auth(hub))
        assert r.status_code == 400, (target, r.text)
    assert hub.api().repo_exists(shared_repo)


def test_reserved_namespaces_cannot_become_accounts(sqlite_hub: Hub) -> None:
    """Through the real CLI (one database is enough: the check is before any SQL)."""
    for namespace in ("api", "Datasets"):
        with pytest.raises(RuntimeError, match="reserved"):
            sqlite_hub.server.cli("user", "create", namespace)
    for namespace in ("models",):
        with pytest.raises(RuntimeError, match=r"reserved|Invalid namespace"):
            sqlite_hub.server.cli("org", "create", namespace, "--owner", "alice")


@pytest.mark.parametrize("namespace", ["api", "datasets", "_lfs", "nobody-here"])
def test_repos_cannot_be_created_in_reserved_or_missing_namespaces(
    hub: Hub, http: httpx.Client, namespace: str
) -> None:
    r = http.post("/api/repos/create", json={"name": "x", "organization": namespace}, headers=auth(hub, "root"))
    assert r.status_code in (400, 403, 404), r.text


def test_invalid_account_names_are_refused(sqlite_hub: Hub) -> None:
    for name in ("a..b", "x" * 97):
        with pytest.raises(RuntimeError, match="Invalid namespace"):
            sqlite_hub.server.cli("user", "create", name)


# --- file paths in commits ----------------------------------------------------------------------------------

BAD_PATHS = {
    "parent": "../x.txt",
    "inner-parent": "a/../b.txt",
    "trailing-parent": "a/..",
    "only-parent": "..",
    "dot": ".",
    "dot-segment": "a/./b.txt",
    "absolute": "/etc/passwd",
    "git-dir": ".git/config",
    "git-dir-nested": "sub/.git/hooks/post-update",
    "git-alone": ".git",
    "nul": "a\x00b.txt",
    "newline": "a\nb.txt",
    "tab": "a\tb.txt",
    "escape": "a\x1b[31mb.txt",
    "del": "a\x7fb.txt",
    "empty": "",
    "double-slash": "a//b.txt",
    "trailing-slash": "dir/",
    "too-long": "d/" * 499 + "xyz",
    "long-segment": "d/" + "y" * 256,
}


@pytest.mark.parametrize("path", list(BAD_PATHS.values()), ids=list(BAD_PATHS))
@pytest.mark.parametrize("op", ["file", "lfsFile", "deletedFile", "deletedFolder"])
def test_invalid_paths_in_commits_are_refused(
    hub: Hub, http: httpx.Client, shared_repo: str, path: str, op: str
) -> None:
    before = head(http, hub, shared_repo)
    line = {
        "file": add(path, b"x"),
        "lfsFile": add_lfs(path, sha256(b"x"), 1),
        "deletedFile": delete(path),
        "deletedFolder": {"key": "deletedFolder", "value": {"path": path}},
    }[op]
    if op == "deletedFolder" and path in ("dir/",):
        pytest.skip("a trailing slash is how clients name folders")
    r = commit(http, hub, shared_repo, [add("ok.txt", b"fine"), line])
    assert r.status_code == 400, r.text
    assert head(http, hub, shared_repo) == before
    assert "ok.txt" not in files(http, hub, shared_repo)


LEGAL_PATHS = [
    "folder/..\\..\\file",  # backslashes are ordinary characters in a repository path
    "..\\x",
    "..hidden",
    "a/...",
    "a/.gitignore",
    ".github/workflows/ci.yml",
    "dir with space/ünïcödé ☃.txt",
    "sub/.gitkeep",
    "x" * 255,
]


def test_legal_but_odd_paths_round_trip(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    r = commit(http, hub, repo_id, [add(p, f"content of {p}".encode()) for p in LEGAL_PATHS])
    assert r.status_code == 200, r.text
    tree = files(http, hub, repo_id)
    for p in LEGAL_PATHS:
        assert p in tree
        assert download(http, hub, repo_id, p) == f"content of {p}".encode()


def test_backslash_path_through_the_client(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    """The client uploads and lists it; hf_hub_download refuses to write it to disk (its own rule, on every OS),
    so it is read back over /resolve."""
    api = hub.api()
    api.upload_file(path_or_fileobj=b"backslashes", path_in_repo="folder/..\\..\\file", repo_id=repo_id)
    assert "folder/..\\..\\file" in api.list_repo_files(repo_id)
    assert download(http, hub, repo_id, "folder/..\\..\\file") == b"backslashes"
    (info,) = api.get_paths_info(repo_id, ["folder/..\\..\\file"])
    assert info.size == len(b"backslashes")


TRAVERSALS = [
    "..%2F..%2Fetc%2Fpasswd",
    "%2E%2E/%2E%2E/etc/passwd",
    "a/%2e%2e/config.json",
    ".git/config",
    ".git/HEAD",
    "%2Fetc%2Fpasswd",
    "a%00b",
    "haven.lock",
]


@pytest.mark.parametrize("path", TRAVERSALS)
def test_resolve_and_tree_never_escape_the_repository(
    hub: Hub, http: httpx.Client, shared_repo: str, path: str
) -> None:
    for url in (f"/{shared_repo}/resolve/main/{path}", f"/api/models/{shared_repo}/tree/main/{path}"):
        r = http.get(url, headers=auth(hub))
        assert r.status_code in (400, 404), (url, r.status_code, r.text[:200])
        assert b"root:" not in r.content and b"[core]" not in r.content and b"ref:" not in r.content
    r = http.post(f"/api/models/{shared_repo}/paths-info/main", data={"paths": path}, headers=auth(hub))
    assert r.status_code in (200, 400) and (r.status_code == 400 or r.json() == [])


# --- revisions ----------------------------------------------------------------------------------------------

BAD_REVISIONS = {
    "dot-dot": "main..other",
    "tilde": "main~1",
    "caret": "main^",
    "colon": "main:config.json",
    "space": "ma in",
    "reflog": "main@{0}",
    "lock": "main.lock",
    "star": "ma*",
    "question": "ma?n",
    "bracket": "ma[in",
    "backslash": "ma\\in",
    "control": "ma\x01in",
    "trailing-slash": "main/",
    "double-slash": "refs//heads/main",
    "dot-segment": "refs/heads/../main",
    "leading-dot": ".main",
    "trailing-dot": "main.",
    "too-long": "b" * 256,
}


@pytest.mark.parametrize("rev", list(BAD_REVISIONS.values()), ids=list(BAD_REVISIONS))
def test_invalid_revisions_are_400(hub: Hub, http: httpx.Client, shared_repo: str, rev: str) -> None:
    q = quote(rev)
    before = head(http, hub, shared_repo)
    for method, url in (
        ("GET", f"/{shared_repo}/resolve/{q}/.gitattributes"),
        ("HEAD", f"/{shared_repo}/resolve/{q}/.gitattributes"),
        ("GET", f"/api/models/{shared_repo}/revision/{q}"),
        ("GET", f"/api/models/{shared_repo}/tree/{q}"),
        ("GET", f"/api/models/{shared_repo}/commits/{q}"),
        ("POST", f"/api/models/{shared_repo}/paths-info/{q}"),
        ("POST", f"/api/models/{shared_repo}/branch/{q}"),
        ("POST", f"/api/models/{shared_repo}/tag/{q}"),
        ("DELETE", f"/api/models/{shared_repo}/branch/{q}"),
        ("DELETE", f"/api/models/{shared_repo}/tag/{q}"),
    ):
        kw = {"json": {"tag": "t"}} if url.endswith(f"/tag/{q}") and method == "POST" else {}
        if "paths-info" in url:
            kw = {"data": {"paths": ".gitattributes"}}
        r = http.request(method, url, headers=auth(hub), **kw)
        assert r.status_code == 400, (method, url, r.status_code, r.text[:200])
    r = commit(http, hub, shared_repo, [add("x.txt", b"x")], revision=rev)
    assert r.status_code == 400, r.text
    r = http.post(
        f"/api/models/{shared_repo}/branch/ok-{uuid.uuid4().hex[:6]}", json={"startingPoint": rev}, headers=auth(hub)
    )
    assert r.status_code == 400, r.text
    assert head(http, hub, shared_repo) == before


@pytest.mark.parametrize("rev", ["nope", "a" * 40, "abcdef1", "refs/heads/nope", "refs/pr/99", "v404"])
def test_missing_revisions_are_404_revision_not_found(hub: Hub, http: httpx.Client, shared_repo: str, rev: str) -> None:
    q = quote(rev)
    for method, url in (
        ("HEAD", f"/{shared_repo}/resolve/{q}/.gitattributes"),
        ("GET", f"/api/models/{shared_repo}/revision/{q}"),
        ("GET", f"/api/models/{shared_repo}/tree/{q}"),
        ("GET", f"/api/models/{shared_repo}/commits/{q}"),
    ):
        r = http.request(method, url, headers=auth(hub))
        assert r.status_code == 404, (method, url, r.status_code)
        assert r.headers.get("x-error-code") == "RevisionNotFound"
    r = commit(http, hub, shared_repo, [add("x.txt", b"x")], revision=rev)
    assert r.status_code == 404 and r.headers.get("x-error-code") == "RevisionNotFound", r.text


@pytest.mark.parametrize(
    "branch", ["a..b", "refs/heads/x", "0123456789abcdef0123456789abcdef01234567", "x.lock", "with space", "x~1", "-"]
)
def test_invalid_branch_names_are_refused(hub: Hub, http: httpx.Client, shared_repo: str, branch: str) -> None:
    r = http.post(f"/api/models/{shared_repo}/branch/{quote(branch)}", headers=auth(hub))
    if branch == "-":
        assert r.status_code in (200, 400)  # git accepts it; what matters is that it is never a 500
        return
    assert r.status_code == 400, r.text
    assert branch not in [b.name for b in hub.api().list_repo_refs(shared_repo).branches]


def test_commits_go_to_branches_only(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    api = hub.api()
    api.create_tag(repo_id, tag="v1")
    sha = head(http, hub, repo_id)
    for rev in ("v1", "refs/tags/v1", sha):
        r = commit(http, hub, repo_id, [add("x.txt", b"x")], revision=rev)
        assert r.status_code in (400, 404), (rev, r.text)
    assert head(http, hub, repo_id) == sha
    assert api.list_repo_refs(repo_id).tags[0].target_commit == sha


def test_parent_commit_must_look_like_a_commit(hub: Hub, http: httpx.Client, shared_repo: str) -> None:
    for parent in ("zzzz", "main", "abc", "0" * 41, "../x"):
        r = commit(http, hub, shared_repo, [add("x.txt", b"x")], parent=parent)
        assert r.status_code == 400, (parent, r.text)


# --- malformed bodies ---------------------------------------------------------------------------------------

MALFORMED = {
    "empty": b"",
    "blank-lines": b"\n\n  \n",
    "not-json": b"this is not json\n",
    "json-array": b"[1, 2, 3]\n",
    "no-header": b'{"key":"file","value":{"path":"a.txt","content":"YQ==","encoding":"base64"}}\n',
    "unknown-key": b'{"key":"header","value":{"summary":"x"}}\n{"key":"copy","value":{"path":"a"}}\n',
    "value-not-object": b'{"key":"header","value":"x"}\n',
    "bad-base64": b'{"key":"header","value":{"summary":"x"}}\n{"key":"file","value":{"path":"a.txt","content":"!!!","encoding":"base64"}}\n',
    "other-encoding": b'{"key":"header","value":{"summary":"x"}}\n{"key":"file","value":{"path":"a.txt","content":"a","encoding":"utf-8"}}\n',
    "path-not-string": b'{"key":"header","value":{"summary":"x"}}\n{"key":"file","value":{"path":7,"content":"YQ=="}}\n',
    "lfs-md5": b'{"key":"header","value":{"summary":"x"}}\n{"key":"lfsFile","value":{"path":"a.bin","algo":"md5","oid":"abc","size":1}}\n',
    "lfs-bad-oid": b'{"key":"header","value":{"summary":"x"}}\n{"key":"lfsFile","value":{"path":"a.bin","oid":"nothex","size":1}}\n',
    "lfs-negative-size": b'{"key":"header","value":{"summary":"x"}}\n{"key":"lfsFile","value":{"path":"a.bin","oid":"'
    + b"a" * 64
    + b'","size":-1}}\n',
    "lfs-string-size": b'{"key":"header","value":{"summary":"x"}}\n{"key":"lfsFile","value":{"path":"a.bin","oid":"'
    + b"a" * 64
    + b'","size":"1"}}\n',
    "invalid-utf8": b'{"key":"header","value":{"summary":"\xff\xfe"}}\n',
    "deeply-nested": b'{"key":"header","value":{"summary":' + b"[" * 5000 + b"]" * 5000 + b"}}\n",
}


@pytest.mark.parametrize("body", list(MALFORMED.values()), ids=list(MALFORMED))
def test_malformed_commit_bodies_are_400(hub: Hub, http: httpx.Client, shared_repo: str, body: bytes) -> None:
    before = head(http, hub, shared_repo)
    r = http.post(
        f"/api/models/{shared_repo}/commit/main",
        content=body,
        headers={"Content-Type": "application/x-ndjson", **auth(hub)},
    )
    assert r.status_code == 400, r.text
    assert head(http, hub, shared_repo) == before


@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"[]", b'{"operation":"upload"}', b'{"operation":"steal","objects":[]}', b'{"objects":{}}'],
)
def test_malformed_lfs_batches_are_400(hub: Hub, http: httpx.Client, shared_repo: str, body: bytes) -> None:
    r = http.post(f"/{shared_repo}.git/info/lfs/objects/batch", content=body, headers=auth(hub))
    assert r.status_code == 400, r.text


def test_malformed_lfs_objects_get_per_object_errors(hub: Hub, http: httpx.Client, shared_repo: str) -> None:
    objects = [{"oid": "x" * 64, "size": 1}, {"oid": "a" * 64, "size": -1}, {"oid": "a" * 64}, "junk", {"oid": 5}]
    r = http.post(
        f"/{shared_repo}.git/info/lfs/objects/batch",
        json={"operation": "upload", "objects": objects},
        headers=auth(hub),
    )
    assert r.status_code == 200, r.text
    out = r.json()["objects"]
    assert len(out) == len(objects)
    assert all(o["error"]["code"] == 422 and "actions" not in o for o in out)


@pytest.mark.parametrize(
    ("method", "path", "kw"),
    [
        ("POST", "/api/repos/create", {"content": b"{not json"}),
        ("POST", "/api/repos/create", {"json": {"name": 5}}),
        ("POST", "/api/repos/create", {"json": {"name": "x", "type": "kernel-of-truth"}}),
        ("POST", "/api/repos/create", {"json": ["name"]}),
        ("PUT", "/api/models/{repo}/settings", {"json": {"visibility": "secret"}}),
        ("PUT", "/api/models/{repo}/settings", {"json": {"gated": "sometimes"}}),
        ("PUT", "/api/models/{repo}/settings", {"content": b"]["}),
        ("POST", "/api/models/{repo}/branch/b1", {"content": b"{nope"}),
        ("POST", "/api/models/{repo}/branch/b1", {"content": b"[1]"}),
        ("POST", "/api/models/{repo}/tag/main", {"json": {}}),
        ("POST", "/api/models/{repo}/preupload/main", {"json": {"files": "x"}}),
        ("POST", "/api/models/{repo}/preupload/main", {"json": {"files": [{"path": "../x"}]}}),
        ("POST", "/api/models/{repo}/preupload/main", {"json": {"files": [{"size": 1}]}}),
        ("POST", "/api/models/{repo}/paths-info/main", {"data": {"paths": "../x"}}),
        ("POST", "/api/validate-yaml", {"content": b"nope"}),
        ("GET", "/api/models", {"params": {"limit": "x"}}),
        ("GET", "/api/models", {"params": {"limit": "-1"}}),
        ("GET", "/api/models", {"params": {"sort": "password"}}),
        ("GET", "/api/models", {"params": {"cursor": "!!!"}}),
        ("GET", "/api/models/{repo}/tree/main", {"params": {"cursor": "x"}}),
        ("GET", "/api/models/{repo}/commits/main", {"params": {"p": "x"}}),
    ],
)
def test_other_malformed_requests_are_400(
    hub: Hub, http: httpx.Client, shared_repo: str, method: str, path: str, kw: dict
) -> None:
    r = http.request(method, path.format(repo=shared_repo), headers=auth(hub), **kw)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers.get("content-type", "").startswith("application/json")
    assert hub.api().model_info(shared_repo).private is False


def test_resolve_quoting_round_trip(hub: Hub, http: httpx.Client, repo_id: str) -> None:
    """Percent-encoded special characters in file paths reach the right file and nothing else."""
    names = ["a#b.txt", "a?b.txt", "a%2Fb.txt", "a%b.txt", "a+b.txt", "a&b=c.txt"]
    assert commit(http, hub, repo_id, [add(n, n.encode()) for n in names]).status_code == 200
    for n in names:
        assert http.get(f"/{repo_id}/resolve/main/{urlquote(n)}", headers=auth(hub)).content == n.encode()
