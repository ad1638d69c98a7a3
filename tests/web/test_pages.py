"""Plain-HTTP checks of the web pages: status codes, private repositories as 404s, CSRF, cookies, sign-up."""

from __future__ import annotations

import hashlib
import html
import io
import re
import struct
import time

import httpx
import orjson
import pytest
from huggingface_hub import CommitOperationAdd, HfApi

from tests.conftest import Hub
from tests.support import Server, tempdir
from tests.web.conftest import PASSWORD, WebClient, csrf_of, unique

CARD = """---
license: apache-2.0
pipeline_tag: text-classification
library_name: transformers
language: [en, fr]
datasets: [acme/corpus]
base_model: acme/base
---
# A test model

| metric | value |
|---|---|
| accuracy | 0.9 |

```python
print("hello")
```
"""


def safetensors_bytes(shapes: dict[str, list[int]]) -> bytes:
    header: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    for name, shape in shapes.items():
        n = 4
        for d in shape:
            n *= d
        header[name] = {"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + n]}
        offset += n
    raw = orjson.dumps(header)
    return struct.pack("<Q", len(raw)) + raw + b"\0" * offset


def make_model(hub: Hub, owner: str = "alice", private: bool = False) -> str:
    repo_id = f"{owner}/{unique('m')}"
    api = hub.api("alice")
    api.create_repo(repo_id, private=private)
    api.create_commit(
        repo_id,
        [
            CommitOperationAdd("README.md", CARD.encode()),
            CommitOperationAdd("config.json", b'{"hidden": 4}\n'),
            CommitOperationAdd("model.safetensors", safetensors_bytes({"a": [4, 4], "b": [4]})),
            CommitOperationAdd("src/train.py", b"import os\nprint(os.name)\n"),
            CommitOperationAdd("logo.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 32),
        ],
        commit_message="First version",
    )
    api.create_commit(repo_id, [CommitOperationAdd("config.json", b'{"hidden": 8}\n')], commit_message="Wider")
    return repo_id


@pytest.fixture(scope="module")
def model(sqlite_hub: Hub) -> str:
    return make_model(sqlite_hub)


def test_public_pages_answer_200_with_html(sqlite_hub: Hub, anon: WebClient, model: str) -> None:
    commits = sqlite_hub.api(None).list_repo_commits(model)
    first, last = commits[-1].commit_id, commits[0].commit_id
    pages = [
        "/",
        "/models",
        "/datasets",
        "/spaces",
        "/models?search=" + model.split("/")[1],
        "/models?task=text-classification&sort=downloads",
        "/models?license=apache-2.0&sort=likes",
        "/models?language=en&sort=updated",
        "/models?dataset=acme/corpus&sort=created",
        "/models?author=alice&library=transformers",
        "/models?tag=base_model:acme/base",
        "/alice",
        "/acme",
        f"/{model}",
        f"/{model}/tree/main",
        f"/{model}/tree/main/src",
        f"/{model}/tree/{last}",
        f"/{model}/blob/main/src/train.py",
        f"/{model}/blob/main/model.safetensors",
        f"/{model}/blob/main/logo.png",
        f"/{model}/blob/main/README.md",
        f"/{model}/commits/main",
        f"/{model}/commit/{last}",
        f"/{model}/compare/{first}...{last}",
        f"/{model}/compare",
        "/login",
        "/signup",
    ]
    for page in pages:
        r = anon.get(page)
        assert r.status_code == 200, (page, r.text[:500])
        assert r.headers["content-type"].startswith("text/html")
        assert "script-src 'self'" in r.headers["content-security-policy"]
        assert len(r.content) < 200_000


def test_listing_search_facets_and_sort(sqlite_hub: Hub, anon: WebClient, model: str) -> None:
    name = model.split("/")[1]
    assert f'href="/{model}"' in anon.get(f"/models?search={name}").text
    page = anon.get(f"/models?search={name}&task=text-classification").text
    assert f'href="/{model}"' in page
    assert 'aria-label="Remove filter task text-classification"' in page
    assert f'href="/{model}"' not in anon.get(f"/models?search={name}&task=image-classification").text
    assert f'href="/{model}"' not in anon.get(f"/datasets?search={name}").text
    facets = anon.get("/models").text
    assert re.search(r"text-classification <span class=\"muted\">\d+</span>", facets)
    assert re.search(r"apache-2.0 <span class=\"muted\">\d+</span>", facets)


def test_repository_page_shows_card_metadata_and_snippets(sqlite_hub: Hub, anon: WebClient, model: str) -> None:
    page = anon.get(f"/{model}").text
    assert "<h1>A test model</h1>" in page
    assert "<table>" in page and "<td>accuracy</td>" in page
    assert '<pre class="highlight"><code><span class="nb">print</span>' in page
    assert 'href="/models?license=apache-2.0"' in page
    assert 'href="/acme/base"' in page and 'href="/datasets/acme/corpus"' in page
    assert '<dd data-parameters title="20">20</dd>' in page  # 4*4 + 4, from the safetensors header
    text = html.unescape(page)
    assert f'AutoModel.from_pretrained("{model}")' in text
    assert f"git clone {sqlite_hub.url}/{model}" in text
    assert f'os.environ["HF_ENDPOINT"] = "{sqlite_hub.url}"' in text


def test_files_and_history(anon: WebClient, model: str) -> None:
    tree = anon.get(f"/{model}/tree/main").text
    for name in ("config.json", "model.safetensors", "src/", "logo.png"):
        assert name in tree
    assert "Wider" in tree  # last commit of config.json
    st = anon.get(f"/{model}/blob/main/model.safetensors").text
    assert "<span data-params>20</span> parameters" in st and "[4, 4]" in st
    assert "data-sha256" in st  # stored through LFS (the default .gitattributes)
    code = anon.get(f"/{model}/blob/main/src/train.py").text
    assert '<span class="kn">import</span>' in code
    history = anon.get(f"/{model}/commits/main").text
    assert "Wider" in history and "First version" in history and "alice" in history
    sha = re.search(rf"/{model}/commit/([0-9a-f]{{40}})", history)
    assert sha
    diff = anon.get(f"/{model}/commit/{sha.group(1)}").text
    assert '<span class="ddel">-{&#34;hidden&#34;: 4}</span>' in diff
    assert '<span class="dadd">+{&#34;hidden&#34;: 8}</span>' in diff


def test_missing_and_private_repositories_are_the_same_404(sqlite_hub: Hub, anon: WebClient) -> None:
    private = make_model(sqlite_hub, private=True)
    bob = WebClient(sqlite_hub)
    bob.sign_up()
    missing = f"alice/{unique('nope')}"

    def body(client: WebClient, url: str) -> str:
        r = client.get(url)
        assert r.status_code == 404, (url, r.status_code)
        return r.text.replace(private, "X").replace(missing, "X")

    for suffix in ("", "/tree/main", "/blob/main/config.json", "/commits/main", "/settings", "/upload/main"):
        for client in (anon, bob):
            if suffix in ("/settings", "/upload/main") and client is anon:
                continue  # a login redirect first, for anyone
            assert body(client, f"/{private}{suffix}") == body(client, f"/{missing}{suffix}")
    assert anon.get(f"/{private}").text.count("does not exist") == 1
    assert anon.get("/models?search=" + private.split("/")[1]).text.count(private) == 0
    model = make_model(sqlite_hub)
    assert anon.get(f"/{model}/blob/main/nope.txt").status_code == 404
    assert anon.get(f"/{model}/tree/nobranch").status_code == 404
    assert anon.get(f"/{unique('nobody')}").status_code == 404
    assert anon.get("/no/such/page/at/all").status_code == 404


def test_forms_refuse_posts_without_the_csrf_token(sqlite_hub: Hub, web: WebClient, model: str) -> None:
    web.sign_up()
    for token in (None, "", "x" * 43):
        data = {"liked": "1"} if token is None else {"liked": "1", "csrf_token": token}
        r = web.http.post(f"/{model}/like", data=data)
        assert r.status_code == 403
        assert "CSRF" in r.text
    r = web.http.post("/settings/tokens", data={"action": "create", "name": "x", "role": "write"})
    assert r.status_code == 403
    assert sqlite_hub.api(None).model_info(model).likes == 0
    # The token of another session is no good either.
    other = WebClient(sqlite_hub)
    other.sign_up()
    foreign = csrf_of(other.get("/").text)
    assert web.http.post(f"/{model}/like", data={"csrf_token": foreign}).status_code == 403
    # A script's header token is checked before the body, and must match even if the body's does.
    good = csrf_of(web.get("/").text)
    r = web.http.post(f"/{model}/like", data={"csrf_token": good}, headers={"x-csrf-token": "nope"})
    assert r.status_code == 403
    # Visitors' forms are protected too.
    anon = httpx.Client(base_url=sqlite_hub.url)
    assert anon.post("/login", data={"name": web.user or "", "password": PASSWORD}).status_code == 403


def test_session_cookie_is_httponly_samesite_and_ends_at_logout(sqlite_hub: Hub) -> None:
    client = WebClient(sqlite_hub)
    client.get("/signup")
    token = client.http.cookies["haven_csrf"]
    name = unique("u")
    r = client.http.post(
        "/signup",
        data={"csrf_token": token, "name": name, "email": "x@example.org", "password": PASSWORD, "password2": PASSWORD},
        follow_redirects=False,
    )
    assert r.status_code == 303
    cookie = next(v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("haven_session="))
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    session_id = client.http.cookies["haven_session"]
    assert f'href="/{name}"' in client.get("/").text
    client.post_form("/", "/logout", {})
    assert f'href="/{name}"' not in client.get("/").text
    # The old cookie is dead server-side, not merely forgotten by this client.
    replay = httpx.Client(base_url=sqlite_hub.url, cookies={"haven_session": session_id})
    assert replay.get("/settings/tokens", follow_redirects=False).status_code == 303


def test_login_with_a_wrong_password_fails_and_the_right_one_works(sqlite_hub: Hub) -> None:
    client = WebClient(sqlite_hub)
    name = client.sign_up()
    client.post_form("/", "/logout", {})
    r = client.post_form("/login", "/login", {"name": name, "password": "wrong password"})
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    r = client.post_form("/login", "/login", {"name": name, "password": PASSWORD, "next": "https://evil.example/"})
    assert r.status_code == 200 and str(r.url) == f"{sqlite_hub.url}/"
    assert f'href="/{name}"' in r.text


def test_tokens_created_in_the_browser_work_with_the_client_and_can_be_revoked(sqlite_hub: Hub, web: WebClient) -> None:
    name = web.sign_up()
    token = web.token("write")
    api = HfApi(endpoint=sqlite_hub.url, token=token)
    assert api.whoami()["name"] == name
    api.create_repo(f"{name}/from-token")
    page = web.get("/settings/tokens").text
    token_id = re.search(r'name="token_id" value="(\d+)"', page)
    assert token_id and token not in page  # shown once only
    web.post_form("/settings/tokens", "/settings/tokens", {"action": "revoke", "token_id": token_id.group(1)})
    time.sleep(2.5)  # the token cache's lifetime
    with pytest.raises(Exception, match="Invalid user token"):
        api.whoami()


def test_repository_settings_rename_and_delete(sqlite_hub: Hub, web: WebClient) -> None:
    name = web.sign_up()
    api = HfApi(endpoint=sqlite_hub.url, token=web.token())
    repo = f"{name}/{unique('s')}"
    api.create_repo(repo)
    r = web.post_form(f"/{repo}/settings", f"/{repo}/settings", {"action": "move", "new_id": f"{name}/renamed"})
    assert r.status_code == 200 and str(r.url).endswith(f"/{name}/renamed")
    r = web.post_form(f"/{name}/renamed/settings", f"/{name}/renamed/settings", {"action": "delete", "confirm": "no"})
    assert r.status_code == 400
    r = web.post_form(
        f"/{name}/renamed/settings", f"/{name}/renamed/settings", {"action": "delete", "confirm": f"{name}/renamed"}
    )
    assert r.status_code == 200
    assert web.get(f"/{name}/renamed").status_code == 404


def test_organisation_members_page(sqlite_hub: Hub, web: WebClient) -> None:
    name = web.sign_up()
    org = unique("o")
    r = web.post_form("/organizations/new", "/organizations/new", {"name": org})
    assert r.status_code == 200 and str(r.url).endswith(f"/{org}")
    page = f"/organizations/{org}/members"
    web.post_form(page, page, {"action": "set", "user": "bob", "role": "write"})
    assert re.search(r'<a href="/bob">bob</a>', web.get(page).text)
    assert web.post_form(page, page, {"action": "remove", "user": name}).status_code == 400  # the last admin
    assert web.post_form(page, page, {"action": "set", "user": name, "role": "write"}).status_code == 400
    web.post_form(page, page, {"action": "remove", "user": "bob"})
    assert '<a href="/bob">bob</a>' not in web.get(page).text
    outsider = WebClient(sqlite_hub)
    outsider.sign_up()
    assert outsider.get(page).status_code == 403


def test_browser_upload_and_edit_go_through_the_commit_service(sqlite_hub: Hub, web: WebClient) -> None:
    name = web.sign_up()
    api = HfApi(endpoint=sqlite_hub.url, token=web.token())
    repo = f"{name}/{unique('u')}"
    api.create_repo(repo)
    token = csrf_of(web.get(f"/{repo}/upload/main").text)
    big = b"\x01" * 11_000_000  # past the LFS threshold: stored as an LFS object, like the API would
    files = [("files", ("notes.txt", io.BytesIO(b"hi\n"))), ("files", ("big.bin", io.BytesIO(big)))]
    r = web.http.post(f"/{repo}/upload/main", data={"csrf_token": token, "directory": "data"}, files=files)
    assert r.status_code == 200 and str(r.url).endswith(f"/{repo}/tree/main/data")
    info = {f.rfilename: f for f in api.model_info(repo, files_metadata=True).siblings or []}
    assert info["data/big.bin"].lfs is not None and info["data/big.bin"].size == len(big)
    # Bad paths are refused by the same validation as the API's.
    r = web.http.post(
        f"/{repo}/upload/main", data={"csrf_token": token, "directory": "../x"}, files=[("files", ("a", b"1"))]
    )
    assert r.status_code == 400
    # Edit the card; a stale parent commit is refused instead of overwriting someone's change.
    edit = web.get(f"/{repo}/edit/main/README.md").text
    parent = re.search(r'name="parent_commit" value="([0-9a-f]{40})"', edit)
    assert parent
    r = web.post_form(f"/{repo}/edit/main/README.md", f"/{repo}/edit/main/README.md", {"content": "# One\r\n"})
    assert r.status_code == 200
    assert api.hf_hub_download(repo, "README.md", cache_dir=str(tempdir("hf-"))).endswith("README.md")
    r = web.post_form(
        f"/{repo}/edit/main/README.md",
        f"/{repo}/edit/main/README.md",
        {"content": "# Two\n", "parent_commit": parent.group(1)},
    )
    assert r.status_code == 412
    assert "<h1>One</h1>" in web.get(f"/{repo}").text


def test_signup_can_be_disabled() -> None:
    root = tempdir("haven-web-nosignup-")
    server = Server(root / "data", extra_env={"HAVEN_ALLOW_SIGNUP": "false"})
    server.data_dir.mkdir(parents=True)
    server.start()
    try:
        client = httpx.Client(base_url=server.url)
        assert client.get("/signup").status_code == 403
        assert 'href="/signup"' not in client.get("/login").text
        token = client.cookies.get("haven_csrf") or ""
        r = client.post("/signup", data={"csrf_token": token, "name": "x", "email": "x@y.z", "password": PASSWORD})
        assert r.status_code == 403
    finally:
        server.stop()


def test_lfs_changes_show_as_size_and_sha256(sqlite_hub: Hub, anon: WebClient) -> None:
    api = sqlite_hub.api("alice")
    repo_id = f"alice/{unique('lfs')}"
    api.create_repo(repo_id)
    old, new = b"\x00" * 1000, b"\x01" * 2000
    api.create_commit(repo_id, [CommitOperationAdd("weights.bin", old)], commit_message="v1")
    api.create_commit(repo_id, [CommitOperationAdd("weights.bin", new)], commit_message="v2")
    sha = api.list_repo_commits(repo_id)[0].commit_id
    page = anon.get(f"/{repo_id}/commit/{sha}").text
    assert hashlib.sha256(old).hexdigest() in page and hashlib.sha256(new).hexdigest() in page
    assert "1.0 kB" in page and "2.0 kB" in page
    blob = anon.get(f"/{repo_id}/blob/main/weights.bin").text
    assert hashlib.sha256(new).hexdigest() in blob and f"/{repo_id}/resolve/main/weights.bin" in blob


def test_gated_repository_files_need_access(sqlite_hub: Hub, anon: WebClient, web: WebClient) -> None:
    api = sqlite_hub.api("alice")
    repo_id = f"alice/{unique('gated')}"
    api.create_repo(repo_id)
    api.create_commit(repo_id, [CommitOperationAdd("secret.txt", b"s3cret\n")], commit_message="s")
    api.update_repo_settings(repo_id, gated="auto")
    web.sign_up()
    sha = api.list_repo_commits(repo_id)[0].commit_id
    assert anon.get(f"/{repo_id}").status_code == 200  # the card and metadata stay public
    assert anon.get(f"/{repo_id}/tree/main").status_code == 200
    for url in (f"/{repo_id}/blob/main/secret.txt", f"/{repo_id}/commit/{sha}"):
        r = anon.get(url)
        assert r.status_code == 401 and "s3cret" not in r.text
        r = web.get(url)
        assert r.status_code == 403 and "s3cret" not in r.text


def test_pages_on_both_databases(hub: Hub) -> None:
    """The listing, facets, repository pages and a login on SQLite and PostgreSQL alike."""
    repo_id = make_model(hub)
    client = WebClient(hub)
    client.sign_up()
    for url in ("/", "/models", "/models?task=text-classification&license=apache-2.0"):
        r = client.get(url)
        assert r.status_code == 200 and f'href="/{repo_id}"' in r.text, url
    assert "<h1>A test model</h1>" in client.get(f"/{repo_id}").text
    for url in (f"/{repo_id}/tree/main", f"/{repo_id}/commits/main", f"/{repo_id}/blob/main/model.safetensors"):
        assert client.get(url).status_code == 200, url
    r = client.post_form(f"/{repo_id}", f"/{repo_id}/like", {"liked": "1"})
    assert r.status_code == 200 and hub.api(None).model_info(repo_id).likes == 1


def home_counts(client: WebClient) -> tuple[int, int]:
    page = client.get("/").text
    found = re.search(r"<strong>(\d+)</strong> models</a>.*?<strong>(\d+)</strong> datasets", page, re.S)
    assert found, page
    return int(found.group(1)), int(found.group(2))


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_home_counts_what_the_visitor_may_see(backend: str, request: pytest.FixtureRequest) -> None:
    from tests.conftest import start_hub

    pg = request.getfixturevalue("postgres") if backend == "postgres" else None
    if backend == "postgres" and pg is None:
        pytest.skip("PostgreSQL is not installed")
    hub = start_hub(f"haven-{backend}-", pg)  # a hub of its own: the counts cover every repository
    try:
        alice, bob = hub.api("alice"), hub.api("bob")
        for name in ("m1", "m2"):
            alice.create_repo(f"alice/{name}")
        alice.create_repo("alice/secret", private=True)
        alice.create_repo("acme/internal", repo_type="dataset", private=True)
        alice.create_repo("alice/open-data", repo_type="dataset")
        bob.create_repo("bob/hidden", private=True)
        member = WebClient(hub)
        member.sign_up()
        assert home_counts(WebClient(hub)) == (2, 1)  # anonymous: public ones only
        mine = HfApi(endpoint=hub.url, token=member.token())
        mine.create_repo(f"{member.user}/draft", private=True)
        assert home_counts(member) == (3, 1)  # plus the visitor's own private model
        assert home_counts(WebClient(hub)) == (2, 1)
    finally:
        hub.server.stop()
