"""Access control of the Xet surfaces: the hub's token endpoints follow the repository access matrix of
tests/security, every CAS route wants a valid unexpired token of the right scope, a token reads only files
its repository references, and signed xorb URLs serve only the range they were signed for."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import orjson
import pytest

from haven.api.signing import Signer
from haven.cas import tokens
from haven.config import Settings
from haven.xet import chunk_hash, hash_to_hex
from tests.cas._xet import (
    Cas,
    FileData,
    bearer,
    cas,
    commit_lfs,
    make_file,
    random_bytes,
    storage,
    token_response,
)
from tests.conftest import Hub
from tests.security.test_access import CALLERS, READ, REPOS, STATUS, WRITE


@dataclass
class World:
    hub: Hub
    ids: dict[str, str]  # "alice/private" -> repo id; plus "bob/public", "alice/gated"
    files: dict[str, FileData]  # same keys: one file committed in each repository
    key: bytes  # the hub's signing key (tokens and signed URLs)

    def cas(self, key: str, scope: str = "read", user: str = "alice") -> Cas:
        return cas(self.hub, self.ids[key], scope, user)

    def repo_num(self, key: str) -> int:
        """The numeric repository id a CAS token carries."""
        token = self.cas(key).token
        payload = token[len(tokens.PREFIX) :].rsplit(".", 1)[0]
        return orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["r"]


@pytest.fixture(scope="module")
def world(sqlite_hub: Hub) -> World:
    tag = uuid.uuid4().hex[:8]
    ids = {key: f"{key.split('/')[0]}/{tag}-{key.split('/')[1]}" for key in [*REPOS, "bob/public", "alice/gated"]}
    files: dict[str, FileData] = {}
    for i, (key, repo_id) in enumerate(ids.items()):
        owner = "bob" if key.startswith("bob") else "alice"
        sqlite_hub.api(owner).create_repo(repo_id, private=key.endswith("private"))
        files[key] = f = make_file(random_bytes(150_000, 100 + i), 16 * 1024)
        cas(sqlite_hub, repo_id, "write", owner).upload(f)
        assert commit_lfs(sqlite_hub, repo_id, {"f.bin": (f.sha256, f.size)}, owner).status_code == 200
    r = httpx.put(
        f"{sqlite_hub.url}/api/models/{ids['alice/gated']}/settings",
        json={"gated": "manual"},
        headers=bearer(sqlite_hub.tokens["alice"]),
    )
    assert r.status_code == 200, r.text
    return World(sqlite_hub, ids, files, Settings(data_dir=sqlite_hub.server.data_dir).signing_key())


def _token_header(world: World, caller: str) -> dict[str, str]:
    if caller == "anonymous":
        return {}
    user, _, kind = caller.partition(":")
    return bearer((world.hub.read_tokens if kind == "read" else world.hub.tokens)[user])


@pytest.mark.parametrize("scope", ["read", "write"])
def test_token_endpoints_follow_the_access_matrix(world: World, scope: str) -> None:
    matrix = READ if scope == "read" else WRITE
    wrong = []
    with httpx.Client(timeout=30) as http:
        for caller in CALLERS:
            for repo in REPOS:
                url = f"{world.hub.url}/api/models/{world.ids[repo]}/xet-{scope}-token/main"
                r = http.get(url, headers=_token_header(world, caller))
                want = 200 if matrix[caller, repo] == "ok" else STATUS[matrix[caller, repo]]
                if r.status_code != want:
                    wrong.append((caller, repo, r.status_code, want))
                elif want == 200:  # the token has the scope asked for, and only that
                    grant = tokens.verify(world.key, f"Bearer {r.json()['accessToken']}")
                    assert grant.scope == scope
                elif want == 404:
                    assert r.headers.get("x-error-code") == "RepoNotFound"
    assert not wrong, wrong


def test_gated_repository_tokens(world: World) -> None:
    gated = world.ids["alice/gated"]
    assert token_response(world.hub, gated, "read", None).status_code == 401
    assert token_response(world.hub, gated, "read", "bob").status_code == 403
    assert token_response(world.hub, gated, "read", "alice").status_code == 200
    assert token_response(world.hub, gated, "write", "bob").status_code == 403


def _routes(world: World) -> list[tuple[str, str, dict]]:
    f = world.files["alice/public"]
    x = f.xorbs[0]
    first = hash_to_hex(chunk_hash(x.chunks[0]))
    return [
        ("HEAD", f"/v1/xorbs/default/{x.hash}", {}),
        ("POST", f"/v1/xorbs/default/{x.hash}", {"content": x.body}),
        ("POST", "/v1/shards", {"content": f.shard()}),
        ("POST", "/v2/shards", {"content": f.shard()}),
        ("GET", f"/v1/reconstructions/{f.file_id}", {}),
        ("GET", f"/v2/reconstructions/{f.file_id}", {}),
        ("POST", "/v1/reconstructions", {"json": [{"prefix": "default", "hash": f.file_id}]}),
        ("HEAD", f"/v1/files/{f.file_id}", {}),
        ("GET", f"/v1/chunks/default/{first}", {}),
        ("GET", f"/v1/chunks/default-merkledb/{first}", {}),
    ]


def _bad_credentials(world: World) -> dict[str, dict[str, str]]:
    real = world.cas("alice/public", "write").token
    payload, sig = real[len(tokens.PREFIX) :].rsplit(".", 1)
    repo = world.repo_num("alice/public")
    other = base64.urlsafe_b64encode(orjson.dumps({"r": repo + 1, "s": "write", "e": 2**40})).decode().rstrip("=")
    junk = base64.urlsafe_b64encode(b"not json").decode().rstrip("=")
    junk_sig = hmac.new(world.key, f"cas\x00{junk}".encode(), hashlib.sha256).hexdigest()[:43]
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    return {
        "none": {},
        "bare scheme": {"Authorization": "Bearer"},
        "empty token": bearer("xet_"),
        "basic": {"Authorization": "Basic " + base64.b64encode(f"alice:{real}".encode()).decode()},
        "raw token, no scheme": {"Authorization": real},
        "hub user token": bearer(world.hub.tokens["alice"]),
        "garbage": bearer("xet_garbage"),
        "garbled": bearer(f"xet_{payload[:-3]}!!!.{sig}"),
        "flipped signature": bearer(f"xet_{payload}.{flipped}"),
        "truncated signature": bearer(f"xet_{payload}.{sig[:20]}"),
        "payload swapped": bearer(f"xet_{other}.{sig}"),
        "signed junk payload": bearer(f"xet_{junk}.{junk_sig}"),
        "expired": bearer(tokens.issue(world.key, repo, "write", ttl=-5)[0]),
        "another key": bearer(tokens.issue(b"k" * 32, repo, "write")[0]),
    }


def test_every_cas_route_rejects_missing_and_bad_tokens(world: World) -> None:
    cas_url = world.cas("alice/public").url
    before = storage(world.hub)
    wrong = []
    with httpx.Client(timeout=30) as http:
        for what, headers in _bad_credentials(world).items():
            for method, path, kw in _routes(world):
                r = http.request(method, cas_url + path, headers=headers, **kw)
                if r.status_code != 401:
                    wrong.append((what, method, path, r.status_code))
                # Upload bodies refused unread: the connection is closed, and said so (it cannot be reused).
                uploading = method == "POST" and ("/xorbs/" in path or "/shards" in path)
                if uploading and r.headers.get("connection") != "close":
                    wrong.append((what, method, path, "keep-alive after an unread body"))
        # A token forged with the hub's own key is accepted: the key, not the format, is what counts.
        forged = tokens.issue(world.key, world.repo_num("alice/public"), "read")[0]
        assert http.head(f"{cas_url}/v1/files/{world.files['alice/public'].file_id}", headers=bearer(forged)).is_success
    assert not wrong, wrong
    assert storage(world.hub) == before


def test_read_token_cannot_upload(world: World) -> None:
    cas_read = world.cas("alice/public", "read")  # alice may write, but this token is read-only
    f = make_file(random_bytes(40_000, 7))
    before = storage(world.hub)
    for r in (cas_read.post_xorb(f.xorbs[0]), cas_read.post_shard(f.shard(), 1), cas_read.post_shard(f.shard(), 2)):
        assert r.status_code == 403 and r.headers["connection"] == "close"
    assert storage(world.hub) == before
    # The same token reads.
    assert cas_read.reconstruction(world.files["alice/public"].file_id).status_code == 200


def test_a_token_reads_only_files_its_repository_references(world: World) -> None:
    mine = world.files["alice/public"]
    for key, other_key, user in [
        ("bob/public", "alice/public", "bob"),  # another user's repository
        ("bob/public", "alice/public", "alice"),  # alice's token, but for bob's repository
        ("alice/public", "alice/private", "alice"),  # the same owner's other (private) repository
        ("acme/public", "acme/private", "carol"),
    ]:
        c = world.cas(key, "read", user)
        theirs = world.files[other_key]
        assert c.reconstruction(world.files[key].file_id).status_code == 200  # its own file
        for version in (1, 2):
            r = c.reconstruction(theirs.file_id, version)
            assert r.status_code == 404, (key, other_key, r.status_code)
        assert c.call("HEAD", f"/v1/files/{theirs.file_id}").status_code == 404
        batch = [{"prefix": "default", "hash": h} for h in (world.files[key].file_id, theirs.file_id)]
        assert c.call("POST", "/v1/reconstructions", json=batch).status_code == 404
    # Write tokens are no different, and malformed ids are a 400.
    c = world.cas("bob/public", "write", "bob")
    assert c.reconstruction(mine.file_id).status_code == 404
    assert c.reconstruction(mine.file_id.upper()).status_code == 400
    assert c.call("HEAD", f"/v1/files/{mine.file_id[:-2]}").status_code == 400


def _url_with(url: str, change: Callable[[dict[str, str]], None]) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    change(query)
    return parts._replace(query=urlencode(query)).geturl()


@pytest.mark.parametrize("server", ["as signed", "main"])
def test_signed_xorb_urls(world: World, server: str) -> None:
    """Reconstructions point at the blob server when it runs; the main server answers the same URLs."""
    f = world.files["alice/public"]
    c = world.cas("alice/public")
    body = c.reconstruction(f.file_id, 2, "40000-80000").json()  # chunks 2..4 of the only xorb
    [term] = body["terms"]
    [entry] = body["xorbs"][term["hash"]]
    url, span = entry["url"], entry["ranges"][0]["bytes"]
    base = url[: url.index("/_xet/xorbs/")] + "/_xet"
    if server == "main":
        url, base = url.replace(base, c.url, 1), c.url
    lo, hi = span["start"], span["end"]
    assert lo > 0 and hi < len(f.xorbs[0].body) - 1
    with httpx.Client(timeout=30) as http:
        full = http.get(url, headers={"Range": f"bytes={lo}-{hi}"})
        assert full.status_code == 206 and full.content == f.xorbs[0].body[lo : hi + 1]
        inner = http.get(url, headers={"Range": f"bytes={lo + 10}-{hi - 10}"})
        assert inner.status_code == 206 and inner.content == f.xorbs[0].body[lo + 10 : hi - 9]
        assert http.get(url).content == f.xorbs[0].body[lo : hi + 1]  # no Range: the signed range
        # Outside the signed range, even by one byte, or all of the xorb.
        for rng in (f"{lo - 1}-{hi}", f"{lo}-{hi + 1}", "0-", f"-{len(f.xorbs[0].body)}", f"{hi + 1}-{hi + 100}"):
            r = http.get(url, headers={"Range": f"bytes={rng}"})
            assert r.status_code == 416, (rng, r.status_code)
        # Tampering with any signed field, or the signature itself.
        other = world.files["bob/public"].xorbs[0].hash
        tampered = {
            "signature": _url_with(url, lambda q: q.update(sig=q["sig"][:-1] + ("0" if q["sig"][-1] != "0" else "1"))),
            "no signature": _url_with(url, lambda q: q.pop("sig")),
            "widened range": _url_with(url, lambda q: q.update(range=f"0-{len(f.xorbs[0].body) - 1}")),
            "extended expiry": _url_with(url, lambda q: q.update(exp=str(int(q["exp"]) + 3600))),
            "other xorb in query": _url_with(url, lambda q: q.update(xorb=other)),
            "other xorb in path": url.replace(f"/xorbs/{term['hash']}?", f"/xorbs/{other}?"),
        }
        for what, bad in tampered.items():
            r = http.get(bad, headers={"Range": f"bytes={lo}-{hi}"})
            assert r.status_code == 403, (what, r.status_code)
        # Expired (signed with the hub's key, in the past).
        query = Signer(world.key, -10).sign("xorb", xorb=term["hash"], range=f"{lo}-{hi}")
        expired = f"{base}/xorbs/{term['hash']}?{query}"
        assert http.get(expired).status_code == 403


def test_lfs_batch_hands_out_cas_write_tokens_only_to_writers(world: World) -> None:
    """git-xet asks the LFS batch API for the "xet" transfer: the answer carries a CAS write token."""
    f = make_file(random_bytes(30_000, 9))
    body = {"operation": "upload", "transfers": ["basic", "xet"], "objects": [{"oid": f.sha256, "size": f.size}]}
    headers = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}

    def batch(repo: str, caller: str) -> httpx.Response:
        url = f"{world.hub.url}/{world.ids[repo]}.git/info/lfs/objects/batch"
        return httpx.post(url, content=orjson.dumps(body), headers={**headers, **_token_header(world, caller)})

    r = batch("acme/public", "dave")
    assert r.status_code == 200 and r.json()["transfer"] == "xet"
    action = r.json()["objects"][0]["actions"]["upload"]
    assert action["href"].endswith(f"/api/models/{world.ids['acme/public']}/xet-write-token/main")
    grant = tokens.verify(world.key, f"Bearer {action['header']['X-Xet-Access-Token']}")
    assert grant.scope == "write" and grant.repo_id == world.repo_num("acme/public")
    Cas(action["header"]["X-Xet-Cas-Url"], action["header"]["X-Xet-Access-Token"]).upload(f)
    assert commit_lfs(world.hub, world.ids["acme/public"], {"via-git.bin": (f.sha256, f.size)}, "dave").is_success
    assert batch("acme/public", "carol").status_code == 403
    assert batch("acme/public", "alice:read").status_code == 403
    assert batch("alice/private", "bob").status_code == 404
    assert batch("alice/public", "anonymous").status_code == 401
