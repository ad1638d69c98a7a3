"""Helpers for the fault tests: raw commits and LFS transfers over httpx, and servers of their own."""

from __future__ import annotations

import base64
import hashlib
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import orjson
import pytest

from tests.conftest import Hub
from tests.conftest import start_hub as own_hub
from tests.support import HAVEN, Postgres

LFS_HEADERS = {"Accept": "application/vnd.git-lfs+json", "Content-Type": "application/vnd.git-lfs+json"}


def start_hub(backend: str, pg: Postgres | None, **env: str) -> Hub:
    """A server of the test's own (with settings of its own), seeded with the usual cast."""
    return own_hub(f"haven-faults-{backend}-", pg if backend == "postgres" else None, env)


_CLIENTS: dict[str, httpx.Client] = {}
_SHARED_REPOS: dict[tuple[str, str], str] = {}


@pytest.fixture(scope="session", autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    for client in _CLIENTS.values():
        client.close()


def client_for(hub: Hub) -> httpx.Client:
    """One httpx client per server: building one costs ~0.1 s (its SSL context)."""
    client = _CLIENTS.get(hub.url)
    if client is None:
        client = _CLIENTS[hub.url] = httpx.Client(base_url=hub.url, timeout=60)
    return client


@pytest.fixture
def http(hub: Hub) -> httpx.Client:
    return client_for(hub)


@pytest.fixture
def shared_repo(hub: Hub, request: pytest.FixtureRequest) -> str:
    """One public repository of alice's per test module and server, for tests that must leave it unchanged."""
    key = (hub.url, request.module.__name__)
    if key not in _SHARED_REPOS:
        name = f"shared-{uuid.uuid4().hex[:10]}"
        hub.api("alice").create_repo(name)
        _SHARED_REPOS[key] = f"alice/{name}"
    return _SHARED_REPOS[key]


def auth(hub: Hub, user: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {hub.tokens[user]}"}


def add(path: str, content: bytes) -> dict[str, Any]:
    return {"key": "file", "value": {"path": path, "content": base64.b64encode(content).decode(), "encoding": "base64"}}


def add_lfs(path: str, oid: str, size: int | None) -> dict[str, Any]:
    value: dict[str, Any] = {"path": path, "algo": "sha256", "oid": oid}
    if size is not None:
        value["size"] = size
    return {"key": "lfsFile", "value": value}


def delete(path: str) -> dict[str, Any]:
    return {"key": "deletedFile", "value": {"path": path}}


def ndjson(ops: list[dict[str, Any]], summary: str = "test", parent: str | None = None) -> bytes:
    header: dict[str, Any] = {"summary": summary, "description": ""}
    if parent is not None:
        header["parentCommit"] = parent
    lines = [{"key": "header", "value": header}, *ops]
    return b"\n".join(orjson.dumps(line) for line in lines) + b"\n"


def commit(
    http: httpx.Client,
    hub: Hub,
    repo_id: str,
    ops: list[dict[str, Any]],
    *,
    revision: str = "main",
    parent: str | None = None,
    user: str = "alice",
    repo_type: str = "models",
) -> httpx.Response:
    return http.post(
        f"/api/{repo_type}/{repo_id}/commit/{quote(revision)}",
        content=ndjson(ops, parent=parent),
        headers={"Content-Type": "application/x-ndjson", **auth(hub, user)},
    )


def quote(rev: str) -> str:
    from urllib.parse import quote as _quote

    return _quote(rev, safe="")


def head(http: httpx.Client, hub: Hub, repo_id: str, branch: str = "main") -> str:
    refs = http.get(f"/api/models/{repo_id}/refs", headers=auth(hub)).json()
    (sha,) = [b["targetCommit"] for b in refs["branches"] if b["name"] == branch]
    return sha


def files(http: httpx.Client, hub: Hub, repo_id: str, revision: str = "main") -> dict[str, dict[str, Any]]:
    r = http.get(f"/api/models/{repo_id}/tree/{quote(revision)}", params={"recursive": "true"}, headers=auth(hub))
    r.raise_for_status()
    return {e["path"]: e for e in r.json() if e["type"] == "file"}


def download(
    http: httpx.Client, hub: Hub, repo_id: str, path: str, revision: str = "main", user: str = "alice"
) -> bytes:
    from urllib.parse import quote as _quote

    r = http.get(f"/{repo_id}/resolve/{quote(revision)}/{_quote(path)}", headers=auth(hub, user), follow_redirects=True)
    r.raise_for_status()
    return r.content


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def lfs_batch(
    http: httpx.Client, hub: Hub, repo_id: str, objects: list[tuple[str, int]], operation: str = "upload"
) -> list[dict[str, Any]]:
    r = http.post(
        f"/{repo_id}.git/info/lfs/objects/batch",
        content=orjson.dumps(
            {
                "operation": operation,
                "transfers": ["basic", "multipart"],
                "objects": [{"oid": o, "size": s} for o, s in objects],
                "hash_algo": "sha256",
            }
        ),
        headers={**LFS_HEADERS, **auth(hub)},
    )
    r.raise_for_status()
    return r.json()["objects"]


def upload_href(http: httpx.Client, hub: Hub, repo_id: str, oid: str, size: int) -> str:
    (obj,) = lfs_batch(http, hub, repo_id, [(oid, size)])
    return obj["actions"]["upload"]["href"]


def blob_path(hub: Hub, oid: str) -> Path:
    return hub.server.data_dir / "blobs" / "sha256" / oid[:2] / oid[2:4] / oid


def tmp_files(hub: Hub) -> list[Path]:
    """Files in the blob store's temp area (half-received objects and parts); empty folders do not count."""
    return [p for p in (hub.server.data_dir / "blobs" / "tmp").rglob("*") if p.is_file()]


def put_and_hang_up(href: str, data: bytes, sent: int) -> None:
    """A PUT that announces all of `data` but sends only `sent` bytes before the client closes the socket."""
    url = urlsplit(href)
    with socket.create_connection((url.hostname, url.port)) as sock:
        sock.sendall(
            f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(data)}\r\n\r\n".encode()
            + data[:sent]
        )
        time.sleep(0.3)  # let the server start writing the object
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close


def fsck(hub: Hub, *args: str) -> list[dict[str, Any]]:
    """`haven fsck --verify-hashes` over the hub's data: its findings (exit status 1 when some are left)."""
    run = subprocess.run(
        [*HAVEN, "fsck", "--json", "--verify-hashes", *args, "--data-dir", str(hub.server.data_dir)],
        capture_output=True,
        text=True,
        env=hub.server.env,
    )
    assert run.returncode in (0, 1) and run.stdout, run.stderr
    return orjson.loads(run.stdout)["findings"]


def repo_dir_of(hub: Hub, repo_id: str) -> Path:
    """The bare repository holding `repo_id` (its config names no repo, so find it by a ref's commit)."""
    head = hub.api().model_info(repo_id).sha
    for candidate in (hub.server.data_dir / "repos").glob("*/*.git"):
        if git_ref(candidate, "refs/heads/main") == head:
            return candidate
    raise AssertionError(f"no repository directory holds {repo_id}")


def git_ref(repo_dir: Path, name: str) -> str:
    """What `name` points at in the bare repository, read by git itself ('' when it does not resolve)."""
    out = subprocess.run(["git", "--git-dir", str(repo_dir), "rev-parse", "--verify", "-q", name], capture_output=True)
    return out.stdout.decode().strip()
