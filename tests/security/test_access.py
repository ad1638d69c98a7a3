"""The access matrix: who may see, read, write and administer which repository, on every surface.

Callers: anonymous, alice with a read token, alice (owner of her repos and of org acme), bob (a stranger),
carol (acme reader), dave (acme writer), root (site admin). Repositories: public and private, owned by alice
and by acme. Outcomes:

    ok         the call succeeds
    hidden     404 with X-Error-Code RepoNotFound, exactly like a repository that does not exist (never 403)
    forbidden  403: the caller may see the repository but not do this to it
    unauth     401: no (valid) credentials where credentials are needed

The repositories are created once per module and backend; only tests of deletion make their own.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from tests.conftest import BACKENDS, Hub

CALLERS = ["anonymous", "alice:read", "alice", "bob", "carol", "dave", "root"]
REPOS = ["alice/public", "alice/private", "acme/public", "acme/private"]


def _table(text: str) -> dict[tuple[str, str], str]:
    rows = [line.split() for line in text.strip().splitlines()]
    header, body = rows[0], rows[1:]
    assert header == REPOS and [r[0] for r in body] == CALLERS, "the table must list every caller and repo"
    return {(r[0], repo): outcome for r in body for repo, outcome in zip(header, r[1:], strict=True)}


# Seeing and reading: metadata, files, trees, refs, history, LFS downloads, likers.
READ = _table("""
            alice/public  alice/private  acme/public  acme/private
anonymous   ok            hidden         ok           hidden
alice:read  ok            ok             ok           ok
alice       ok            ok             ok           ok
bob         ok            hidden         ok           hidden
carol       ok            hidden         ok           ok
dave        ok            hidden         ok           ok
root        ok            ok             ok           ok
""")

# Writing: commits, LFS uploads, branches, tags. A read token never writes, whatever its owner may do.
WRITE = _table("""
            alice/public  alice/private  acme/public  acme/private
anonymous   forbidden     hidden         forbidden    hidden
alice:read  forbidden     forbidden      forbidden    forbidden
alice       ok            ok             ok           ok
bob         forbidden     hidden         forbidden    hidden
carol       forbidden     hidden         forbidden    forbidden
dave        forbidden     hidden         ok           ok
root        ok            ok             ok           ok
""")

# Administering: settings (visibility, gating) and deletion. Org writers are not org admins.
ADMIN = _table("""
            alice/public  alice/private  acme/public  acme/private
anonymous   forbidden     hidden         forbidden    hidden
alice:read  forbidden     forbidden      forbidden    forbidden
alice       ok            ok             ok           ok
bob         forbidden     hidden         forbidden    hidden
carol       forbidden     hidden         forbidden    forbidden
dave        forbidden     hidden         forbidden    forbidden
root        ok            ok             ok           ok
""")

STATUS = {"hidden": 404, "forbidden": 403, "unauth": 401}
CONFIG = b'{"hidden_size": 8}'
WEIGHTS = b"\x00\x01weights" * 64  # *.bin: stored through LFS by the default .gitattributes
WEIGHTS_OID = hashlib.sha256(WEIGHTS).hexdigest()


@dataclass
class World:
    hub: Hub
    tag: str
    ids: dict[str, str]  # "alice/private" -> "alice/<tag>-private"
    private_dataset: str
    _http: httpx.Client | None = None

    def token(self, caller: str) -> str | None:
        if caller == "anonymous":
            return None
        user, _, kind = caller.partition(":")
        return (self.hub.read_tokens if kind == "read" else self.hub.tokens)[user]

    def headers(self, caller: str) -> dict[str, str]:
        token = self.token(caller)
        return {"Authorization": f"Bearer {token}"} if token else {}

    def api(self, caller: str):  # type: ignore[no-untyped-def]
        from huggingface_hub import HfApi

        return HfApi(endpoint=self.hub.url, token=self.token(caller) or False)

    @property
    def http(self) -> httpx.Client:
        """One client for the module: building an httpx.Client costs ~0.1 s (its SSL context)."""
        if self._http is None:
            self._http = httpx.Client(base_url=self.hub.url, timeout=30)
        return self._http


def _repo_id(tag: str, key: str) -> str:
    owner, visibility = key.split("/")
    return f"{owner}/{tag}-{visibility}"


@pytest.fixture(scope="module", params=BACKENDS)
def world(request: pytest.FixtureRequest) -> Iterator[World]:
    hub: Hub = request.getfixturevalue(f"{request.param}_hub")
    from huggingface_hub import CommitOperationAdd

    tag = f"acc{uuid.uuid4().hex[:8]}"
    alice = hub.api("alice")
    ids = {key: _repo_id(tag, key) for key in REPOS}
    for key, repo_id in ids.items():
        alice.create_repo(repo_id, private=key.endswith("private"))
        alice.create_commit(
            repo_id,
            [CommitOperationAdd("config.json", CONFIG), CommitOperationAdd("weights.bin", WEIGHTS)],
            commit_message="seed",
        )
    dataset = f"acme/{tag}-ds-private"
    alice.create_repo(dataset, repo_type="dataset", private=True)
    w = World(hub, tag, ids, dataset)
    for repo_id in ids.values():  # alice likes everything; carol likes what she can see
        w.http.post(f"/api/models/{repo_id}/like", headers=w.headers("alice")).raise_for_status()
    for key in ("alice/public", "acme/private"):
        w.http.post(f"/api/models/{ids[key]}/like", headers=w.headers("carol")).raise_for_status()
    yield w
    w.http.close()


def _check(outcome: str, response: httpx.Response, ok: int | tuple[int, ...] = 200) -> None:
    """The response matches the matrix cell."""
    info = f"{response.request.method} {response.request.url.path}: {response.status_code} {response.headers.get('x-error-message')}"
    if outcome == "ok":
        assert response.status_code in (ok if isinstance(ok, tuple) else (ok,)), info
        return
    assert response.status_code == STATUS[outcome], info
    if outcome == "hidden":
        assert response.headers.get("x-error-code") == "RepoNotFound", info


# --- reading ------------------------------------------------------------------------------------------------


def _info(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    r = http.get(f"/api/models/{repo_id}", headers=w.headers(caller))
    if r.status_code == 200:
        assert r.json()["id"] == repo_id
        assert {s["rfilename"] for s in r.json()["siblings"]} == {".gitattributes", "config.json", "weights.bin"}
    return r


def _info_at_revision(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    return http.get(f"/api/models/{repo_id}/revision/main", headers=w.headers(caller))


def _resolve_get(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    r = http.get(f"/{repo_id}/resolve/main/config.json", headers=w.headers(caller))
    if r.status_code == 200:
        assert r.content == CONFIG
    return r


def _resolve_head(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    return http.head(f"/{repo_id}/resolve/main/config.json", headers=w.headers(caller))


def _resolve_lfs(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    """An LFS file redirects to a signed blob URL, which then serves the bytes without credentials."""
    r = http.get(f"/{repo_id}/resolve/main/weights.bin", headers=w.headers(caller))
    if r.status_code == 302:
        assert r.headers["x-linked-etag"] == f'"{WEIGHTS_OID}"'
        assert http.get(r.headers["location"]).content == WEIGHTS
    return r


def _resolve_missing_file(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    """A missing file in an invisible repository is RepoNotFound, never EntryNotFound (which would reveal it)."""
    r = http.head(f"/{repo_id}/resolve/main/nope.txt", headers=w.headers(caller))
    if r.status_code == 404 and r.headers.get("x-error-code") == "EntryNotFound":
        return httpx.Response(200, request=r.request)  # "ok": a caller who sees the repo learns the file is missing
    return r


def _tree(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    r = http.get(f"/api/models/{repo_id}/tree/main", params={"recursive": "true"}, headers=w.headers(caller))
    if r.status_code == 200:
        assert {e["path"] for e in r.json()} == {".gitattributes", "config.json", "weights.bin"}
    return r


def _paths_info(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    r = http.post(
        f"/api/models/{repo_id}/paths-info/main",
        data={"paths": ["config.json", "weights.bin"], "expand": "false"},
        headers=w.headers(caller),
    )
    if r.status_code == 200:
        assert [e["path"] for e in r.json()] == ["config.json", "weights.bin"]
    return r


def _refs(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    return http.get(f"/api/models/{repo_id}/refs", headers=w.headers(caller))


def _commits(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    r = http.get(f"/api/models/{repo_id}/commits/main", headers=w.headers(caller))
    if r.status_code == 200:
        assert r.json()[0]["title"] == "seed"
    return r


def _lfs_batch(operation: str, oid: str = WEIGHTS_OID, size: int = len(WEIGHTS)) -> dict[str, Any]:
    return {"operation": operation, "transfers": ["basic"], "objects": [{"oid": oid, "size": size}]}


LFS_HEADERS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def _lfs_download(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    r = http.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        content=orjson.dumps(_lfs_batch("download")),
        headers={**LFS_HEADERS, **w.headers(caller)},
    )
    if r.status_code == 200:
        (obj,) = r.json()["objects"]
        assert http.get(obj["actions"]["download"]["href"]).content == WEIGHTS
    return r


def _likers(w: World, http: httpx.Client, repo_id: str, caller: str) -> httpx.Response:
    r = http.get(f"/api/models/{repo_id}/likers", headers=w.headers(caller))
    if r.status_code == 200:
        assert "alice" in {u["user"] for u in r.json()}
    return r


READ_SURFACES: dict[str, Callable[[World, httpx.Client, str, str], httpx.Response]] = {
    "info": _info,
    "info-at-revision": _info_at_revision,
    "resolve-get": _resolve_get,
    "resolve-head": _resolve_head,
    "resolve-lfs": _resolve_lfs,
    "resolve-missing-file": _resolve_missing_file,
    "tree": _tree,
    "paths-info": _paths_info,
    "refs": _refs,
    "commits": _commits,
    "lfs-batch-download": _lfs_download,
    "likers": _likers,
}


@pytest.mark.parametrize("repo", REPOS)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("surface", list(READ_SURFACES))
def test_read(world: World, surface: str, caller: str, repo: str) -> None:
    response = READ_SURFACES[surface](world, world.http, world.ids[repo], caller)
    _check(READ[caller, repo], response, ok=302 if surface == "resolve-lfs" else 200)


@pytest.mark.parametrize("repo", REPOS)
@pytest.mark.parametrize("caller", CALLERS)
def test_read_through_the_client(world: World, caller: str, repo: str, tmp_path: Path) -> None:
    """What the Python client makes of it: repo_exists/file_exists are False and downloads raise
    RepositoryNotFoundError for repositories the caller may not see."""
    from huggingface_hub import hf_hub_download
    from huggingface_hub.errors import RepositoryNotFoundError

    api, repo_id = world.api(caller), world.ids[repo]
    visible = READ[caller, repo] == "ok"
    assert api.repo_exists(repo_id) is visible
    assert api.file_exists(repo_id, "config.json") is visible
    token = world.token(caller) or False
    if visible:
        path = hf_hub_download(repo_id, "weights.bin", endpoint=world.hub.url, token=token, cache_dir=tmp_path)
        assert Path(path).read_bytes() == WEIGHTS
    else:
        with pytest.raises(RepositoryNotFoundError):
            hf_hub_download(repo_id, "config.json", endpoint=world.hub.url, token=token, cache_dir=tmp_path)
        with pytest.raises(RepositoryNotFoundError):
            api.model_info(repo_id)


@pytest.mark.parametrize("caller", CALLERS)
def test_hidden_repo_looks_exactly_like_a_missing_one(world: World, caller: str) -> None:
    """Status, error code and message shape of a private repository equal those of one that never existed."""
    http = world.http
    for repo in REPOS:
        if READ[caller, repo] != "hidden":
            continue
        real = world.ids[repo]
        ghost = f"{real.split('/')[0]}/{world.tag}-ghost"
        for path in ("/api/models/{}", "/api/models/{}/tree/main", "/{}/resolve/main/config.json"):
            a = http.get(path.format(real), headers=world.headers(caller))
            b = http.get(path.format(ghost), headers=world.headers(caller))
            assert (a.status_code, a.headers.get("x-error-code")) == (b.status_code, b.headers.get("x-error-code"))
            assert a.headers["x-error-message"].replace(real, ghost) == b.headers["x-error-message"]


# --- listings -----------------------------------------------------------------------------------------------


def _visible(caller: str, owner: str | None = None) -> set[str]:
    return {key for key in REPOS if READ[caller, key] == "ok" and (owner is None or key.startswith(owner + "/"))}


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize(
    "query",
    [
        pytest.param({}, id="all"),
        pytest.param({"search": "<tag>"}, id="search"),
        pytest.param({"search": "<tag>-private"}, id="search-private"),
        pytest.param({"author": "alice"}, id="author-alice"),
        pytest.param({"author": "acme", "search": "<tag>"}, id="author-acme-search"),
        pytest.param({"author": "acme", "sort": "likes"}, id="author-acme-by-likes"),
        pytest.param({"search": "<tag>", "full": True}, id="search-full"),
    ],
)
def test_list_models_shows_only_visible_repos(world: World, caller: str, query: dict[str, Any]) -> None:
    query = {k: (v.replace("<tag>", world.tag) if isinstance(v, str) else v) for k, v in query.items()}
    found = {m.id for m in world.api(caller).list_models(**query) if m.id.split("/")[1].startswith(world.tag)}
    search = query.get("search", "")
    expected = {world.ids[key] for key in _visible(caller, query.get("author")) if search in world.ids[key]}
    assert found == expected


@pytest.mark.parametrize("caller", CALLERS)
def test_private_datasets_follow_the_same_rule(world: World, caller: str) -> None:
    api = world.api(caller)
    sees = READ[caller, "acme/private"] == "ok"
    assert {d.id for d in api.list_datasets(search=world.tag)} == ({world.private_dataset} if sees else set())
    assert api.repo_exists(world.private_dataset, repo_type="dataset") is sees
    # A dataset is not a model: the same name under /api/models is simply not there.
    assert api.repo_exists(world.private_dataset) is False


@pytest.mark.parametrize("caller", CALLERS)
def test_liked_repos_show_only_visible_repos(world: World, caller: str) -> None:
    api = world.api(caller)
    alice_likes = {r for r in api.list_liked_repos("alice").models if r.split("/")[1].startswith(world.tag)}
    assert alice_likes == {world.ids[key] for key in _visible(caller)}
    carol_likes = {r for r in api.list_liked_repos("carol").models if r.split("/")[1].startswith(world.tag)}
    assert carol_likes == {world.ids[k] for k in ("alice/public", "acme/private") if READ[caller, k] == "ok"}


# --- writing ------------------------------------------------------------------------------------------------


def _client_call(fn: Callable[[], object]) -> httpx.Response | None:
    """Run a client call; the failed response if it raised an HTTP error, None on success."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        fn()
    except HfHubHTTPError as e:
        assert e.response is not None
        return e.response  # type: ignore[return-value]
    return None


def _check_client(outcome: str, response: httpx.Response | None) -> None:
    if outcome == "ok":
        assert response is None, f"{response.status_code}: {response.headers.get('x-error-message')}"  # type: ignore[union-attr]
        return
    assert response is not None, f"expected {outcome}, the call succeeded"
    assert response.status_code == STATUS[outcome], response.headers.get("x-error-message")
    if outcome == "hidden":
        assert response.headers.get("x-error-code") == "RepoNotFound"


def _upload_file(w: World, repo_id: str, caller: str) -> httpx.Response | None:
    name = f"by-{caller.replace(':', '-')}-{uuid.uuid4().hex[:6]}.txt"
    r = _client_call(lambda: w.api(caller).upload_file(path_or_fileobj=b"hello", path_in_repo=name, repo_id=repo_id))
    landed = w.api("root").file_exists(repo_id, name)
    assert landed is (r is None)
    return r


def _raw_commit(w: World, repo_id: str, caller: str) -> httpx.Response | None:
    """The commit endpoint itself, without the client's preupload step in front."""
    lines = [
        {"key": "header", "value": {"summary": "raw"}},
        {"key": "file", "value": {"path": "raw.txt", "content": base64.b64encode(b"x").decode(), "encoding": "base64"}},
    ]
    http = w.http
    r = http.post(
        f"/api/models/{repo_id}/commit/main",
        content=b"\n".join(orjson.dumps(line) for line in lines),
        headers={"Content-Type": "application/x-ndjson", **w.headers(caller)},
    )
    return None if r.status_code == 200 else r


def _lfs_upload(w: World, repo_id: str, caller: str) -> httpx.Response | None:
    data = f"lfs by {caller} {uuid.uuid4()}".encode()
    batch = _lfs_batch("upload", hashlib.sha256(data).hexdigest(), len(data))
    http = w.http
    r = http.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        content=orjson.dumps(batch),
        headers={**LFS_HEADERS, **w.headers(caller)},
    )
    if r.status_code != 200:
        return r
    (obj,) = r.json()["objects"]
    assert "error" not in obj
    http.put(obj["actions"]["upload"]["href"], content=data).raise_for_status()
    return None


def _create_branch(w: World, repo_id: str, caller: str) -> httpx.Response | None:
    branch = f"b-{uuid.uuid4().hex[:8]}"
    r = _client_call(lambda: w.api(caller).create_branch(repo_id, branch=branch))
    assert (branch in {b.name for b in w.api("root").list_repo_refs(repo_id).branches}) is (r is None)
    return r


def _create_tag(w: World, repo_id: str, caller: str) -> httpx.Response | None:
    tag = f"t-{uuid.uuid4().hex[:8]}"
    return _client_call(lambda: w.api(caller).create_tag(repo_id, tag=tag))


def _delete_file(w: World, repo_id: str, caller: str) -> httpx.Response | None:
    name = f"doomed-{uuid.uuid4().hex[:6]}.txt"
    w.api("alice").upload_file(path_or_fileobj=b"bye", path_in_repo=name, repo_id=repo_id)
    r = _client_call(lambda: w.api(caller).delete_file(name, repo_id))
    assert w.api("root").file_exists(repo_id, name) is (r is not None)
    return r


WRITE_SURFACES: dict[str, Callable[[World, str, str], httpx.Response | None]] = {
    "upload-file": _upload_file,
    "raw-commit": _raw_commit,
    "delete-file": _delete_file,
    "lfs-batch-upload": _lfs_upload,
    "create-branch": _create_branch,
    "create-tag": _create_tag,
}


@pytest.mark.parametrize("repo", REPOS)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("surface", list(WRITE_SURFACES))
def test_write(world: World, surface: str, caller: str, repo: str) -> None:
    outcome = WRITE[caller, repo]
    if surface == "lfs-batch-upload" and caller == "anonymous":
        outcome = "unauth"  # git-lfs needs the 401 (with LFS-Authenticate) to ask for credentials
    _check_client(outcome, WRITE_SURFACES[surface](world, world.ids[repo], caller))


def test_anonymous_lfs_upload_asks_for_credentials(world: World) -> None:
    http = world.http
    r = http.post(
        f"/{world.ids['alice/public']}.git/info/lfs/objects/batch",
        content=orjson.dumps(_lfs_batch("upload")),
        headers=LFS_HEADERS,
    )
    assert r.status_code == 401 and "LFS-Authenticate" in r.headers


@pytest.mark.parametrize("repo", REPOS)
@pytest.mark.parametrize("caller", CALLERS)
def test_update_settings(world: World, caller: str, repo: str) -> None:
    """Those allowed send a no-op; those refused try to flip the visibility, which must not happen."""
    repo_id, private = world.ids[repo], repo.endswith("private")
    outcome = ADMIN[caller, repo]
    target = private if outcome == "ok" else not private
    r = _client_call(lambda: world.api(caller).update_repo_settings(repo_id, private=target, gated=False))
    _check_client(outcome, r)
    assert world.api("root").model_info(repo_id).private is private


@pytest.mark.parametrize("repo", REPOS)
@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("action", ["delete", "move"])
def test_delete_and_move_repo(world: World, action: str, caller: str, repo: str) -> None:
    """On a repository of its own (created by alice), so that what succeeds harms no other test."""
    owner, visibility = repo.split("/")
    repo_id = f"{owner}/{world.tag}-{action}-{uuid.uuid4().hex[:6]}"
    moved = f"{repo_id}-moved"
    world.api("alice").create_repo(repo_id, private=visibility == "private")
    api = world.api(caller)
    r = _client_call(lambda: api.delete_repo(repo_id) if action == "delete" else api.move_repo(repo_id, moved))
    _check_client(ADMIN[caller, repo], r)
    root = world.api("root")
    assert root.repo_exists(repo_id) is (r is not None)
    assert root.repo_exists(moved) is (action == "move" and r is None)
    world.api("alice").delete_repo(moved if root.repo_exists(moved) else repo_id, missing_ok=True)


@pytest.mark.parametrize("caller", ["alice", "root"])
def test_moving_into_a_namespace_needs_rights_there(world: World, caller: str) -> None:
    """Administering a repository is not enough to put it under someone else's name."""
    repo_id = f"acme/{world.tag}-mv-{uuid.uuid4().hex[:6]}"
    world.api("alice").create_repo(repo_id)
    r = _client_call(lambda: world.api(caller).move_repo(repo_id, f"bob/{repo_id.split('/')[1]}"))
    if caller == "root":
        assert r is None
        world.api("root").delete_repo(f"bob/{repo_id.split('/')[1]}")
    else:
        assert r is not None and r.status_code == 403
        world.api("alice").delete_repo(repo_id)


def test_visibility_changes_take_effect_at_once(world: World) -> None:
    alice, bob = world.api("alice"), world.api("bob")
    repo_id = f"alice/{world.tag}-flip-{uuid.uuid4().hex[:6]}"
    alice.create_repo(repo_id)
    alice.upload_file(path_or_fileobj=CONFIG, path_in_repo="config.json", repo_id=repo_id)
    assert bob.file_exists(repo_id, "config.json")
    alice.update_repo_settings(repo_id, private=True)
    assert not bob.repo_exists(repo_id) and not bob.file_exists(repo_id, "config.json")
    assert repo_id not in {m.id for m in bob.list_models(search=repo_id.split("/")[1])}
    assert world.http.get(f"/{repo_id}/resolve/main/config.json").status_code == 404
    alice.update_repo_settings(repo_id, private=False)
    assert bob.file_exists(repo_id, "config.json")
    alice.delete_repo(repo_id)


def test_signed_blob_urls_are_bound_to_their_object(world: World) -> None:
    """The redirect target of a private LFS file works without credentials (like a presigned URL), but only
    for that object: another oid, or a changed signature, gets nothing."""
    http = world.http
    r = http.get(f"/{world.ids['alice/private']}/resolve/main/weights.bin", headers=world.headers("alice"))
    assert r.status_code == 302
    location = r.headers["location"]
    assert http.get(location).content == WEIGHTS
    other = hashlib.sha256(CONFIG).hexdigest()
    assert http.get(location.replace(WEIGHTS_OID, other, 1)).status_code in (403, 404)
    path, _, query = location.partition("?")
    assert http.get(path).status_code == 403
    assert http.get(f"{path}?{query.replace('sig=', 'sig=0')}").status_code == 403


#                  alice      acme
CREATE = {
    "anonymous": ("forbidden", "forbidden"),
    "alice:read": ("forbidden", "forbidden"),
    "alice": ("ok", "ok"),
    "bob": ("forbidden", "forbidden"),
    "carol": ("forbidden", "forbidden"),
    "dave": ("forbidden", "ok"),
    "root": ("ok", "ok"),
}


@pytest.mark.parametrize("namespace", ["alice", "acme"])
@pytest.mark.parametrize("caller", CALLERS)
def test_create_repo_in_namespace(world: World, caller: str, namespace: str) -> None:
    repo_id = f"{namespace}/{world.tag}-new-{uuid.uuid4().hex[:6]}"
    outcome = CREATE[caller][0 if namespace == "alice" else 1]
    http = world.http
    r = http.post(
        "/api/repos/create",
        json={"name": repo_id.split("/")[1], "organization": namespace, "type": "model", "private": True},
        headers=world.headers(caller),
    )
    _check(outcome, r)
    assert world.api("root").repo_exists(repo_id) is (outcome == "ok")


@pytest.mark.parametrize("caller", CALLERS)
def test_create_repo_over_an_existing_private_repo(world: World, caller: str) -> None:
    """create_repo(exist_ok=True) succeeds for whoever can see the repository (the 409 carries its url, even
    for a read token), and is a plain 403 for the others: nothing reveals that the name is taken."""
    repo_id = world.ids["acme/private"]
    r = _client_call(lambda: world.api(caller).create_repo(repo_id, private=True, exist_ok=True))
    if READ[caller, "acme/private"] == "ok":
        assert r is None
    else:
        assert r is not None and r.status_code == 403
        ghost = _client_call(lambda: world.api(caller).create_repo(f"acme/{world.tag}-ghost", exist_ok=True))
        assert ghost is not None and ghost.status_code == 403
        assert ghost.headers["x-error-message"] == r.headers["x-error-message"]


# --- credentials --------------------------------------------------------------------------------------------

BAD_CREDENTIALS = {
    "unknown-bearer": "Bearer hv_not-a-real-token",
    "basic-unknown": "Basic " + base64.b64encode(b"alice:hv_not-a-real-token").decode(),
    "basic-garbage": "Basic !!!not-base64!!!",
    "unknown-scheme": "Token hv_whatever",
}


def _surfaces_for_credentials(w: World) -> list[tuple[str, str, dict[str, Any]]]:
    pub = w.ids["alice/public"]
    commit = b'{"key":"header","value":{"summary":"x"}}\n'
    return [
        ("GET", "/api/whoami-v2", {}),
        ("GET", f"/api/models/{pub}", {}),
        ("GET", "/api/models", {"params": {"search": w.tag}}),
        ("GET", f"/{pub}/resolve/main/config.json", {}),
        ("HEAD", f"/{pub}/resolve/main/config.json", {}),
        ("GET", f"/api/models/{pub}/tree/main", {}),
        ("POST", f"/api/models/{pub}/paths-info/main", {"data": {"paths": "config.json"}}),
        ("GET", f"/api/models/{pub}/refs", {}),
        ("POST", f"/{pub}.git/info/lfs/objects/batch", {"content": orjson.dumps(_lfs_batch("download"))}),
        ("POST", f"/api/models/{pub}/commit/main", {"content": commit}),
        ("POST", "/api/repos/create", {"json": {"name": "never"}}),
        ("GET", "/api/users/alice/likes", {}),
    ]


@pytest.mark.parametrize("credential", list(BAD_CREDENTIALS))
def test_invalid_credentials_get_401_everywhere(world: World, credential: str) -> None:
    """An invalid token is an error, even on public data: never silently anonymous."""
    http = world.http
    for method, path, kw in _surfaces_for_credentials(world):
        r = http.request(method, path, headers={"Authorization": BAD_CREDENTIALS[credential]}, **kw)
        assert r.status_code == 401, f"{method} {path}: {r.status_code}"
        assert r.headers.get("x-error-message") == "Invalid credentials in Authorization header"


def test_invalid_token_through_the_client(world: World) -> None:
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    api = HfApi(endpoint=world.hub.url, token="hv_not-a-real-token")
    with pytest.raises(HfHubHTTPError) as e:
        api.model_info(world.ids["alice/public"])
    assert e.value.response.status_code == 401
    assert not isinstance(e.value, RepositoryNotFoundError)
    with pytest.raises(HfHubHTTPError) as e:
        api.whoami()
    assert e.value.response.status_code == 401


def test_read_token_is_a_read_token(world: World) -> None:
    me = world.api("alice:read").whoami()
    assert me["name"] == "alice" and me["auth"]["accessToken"]["role"] == "read"


def test_revoked_tokens_stop_working(sqlite_hub: Hub) -> None:
    """Through the real CLI: a revoked token is refused (after at most the server's short token cache)."""
    import time

    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    token = sqlite_hub.server.cli("token", "create", "bob", "--name", "short-lived")
    api = HfApi(endpoint=sqlite_hub.url, token=token)
    assert api.whoami()["name"] == "bob"
    sqlite_hub.server.cli("token", "revoke", token)
    deadline = time.monotonic() + 10
    while True:
        try:
            api.whoami()
        except HfHubHTTPError as e:
            assert e.response.status_code == 401
            break
        assert time.monotonic() < deadline, "the revoked token still works"
        time.sleep(0.05)
    with pytest.raises(HfHubHTTPError) as e:
        list(api.list_models(author="bob"))  # a generator: the request happens on iteration
    assert e.value.response.status_code == 401
