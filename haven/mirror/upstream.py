"""Talking to an upstream hub: repo info over its API, history over git smart HTTP, file bytes over /resolve.

Knows no Haven state; every failure to reach the upstream is an UpstreamUnavailable, so callers can fall
back to what is cached."""

from __future__ import annotations

import http.client
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

import httpx

from haven.errors import HavenError
from haven.mirror.rules import Upstream
from haven.names import URL_PREFIX


class UpstreamUnavailable(HavenError):
    """The upstream could not be reached, or answered with a server error."""

    status = 502


def _headers(upstream: Upstream) -> dict[str, str]:
    return {"Authorization": f"Bearer {upstream.token}"} if upstream.token else {}


def repo_info(upstream: Upstream, repo_type: str, full_id: str, timeout: float) -> dict[str, Any] | None:
    """The upstream's repo info (None: it does not exist, or the upstream token may not see it)."""
    url = f"{upstream.url}/api/{repo_type}s/{full_id}"
    try:
        r = httpx.get(url, headers=_headers(upstream), timeout=timeout)
    except httpx.HTTPError as e:
        raise UpstreamUnavailable(f"upstream {upstream.url} unreachable: {e}") from None
    if r.status_code in (401, 403, 404):
        return None
    if r.status_code != 200:
        raise UpstreamUnavailable(f"upstream {upstream.url} answered {r.status_code}")
    info = r.json()
    return info if isinstance(info, dict) else None


def git_url(upstream: Upstream, repo_type: str, full_id: str) -> str:
    return f"{upstream.url}/{URL_PREFIX[repo_type]}{full_id}.git"


FETCH_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*", "+refs/convert/*:refs/convert/*")


def git_fetch(upstream: Upstream, repo_type: str, full_id: str, repo: Path, timeout: float) -> None:
    """Fetch every branch, tag and conversion ref into the bare repository `repo`, pruning deleted ones.
    LFS pointers come with the trees; their objects are fetched on first download."""
    args = ["git", "-c", "credential.helper=", "-c", "protocol.version=2", "-C", str(repo)]
    args += ["fetch", "--quiet", "--prune", "--no-tags", git_url(upstream, repo_type, full_id)]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "GIT_HTTP_LOW_SPEED_TIME": "30", "GIT_HTTP_LOW_SPEED_LIMIT": "1"}
    if upstream.token:  # through the environment, not the command line other users' `ps` can read
        env.update(
            GIT_CONFIG_COUNT="1",
            GIT_CONFIG_KEY_0="http.extraHeader",
            GIT_CONFIG_VALUE_0=f"Authorization: Bearer {upstream.token}",
        )
    try:
        proc = subprocess.run(
            [*args, *FETCH_REFSPECS], capture_output=True, text=True, env=env, timeout=max(timeout, 600), check=False
        )
    except subprocess.TimeoutExpired:
        raise UpstreamUnavailable(f"git fetch from {upstream.url} timed out") from None
    if proc.returncode != 0:
        raise UpstreamUnavailable(f"git fetch from {upstream.url} failed: {proc.stderr.strip()[-500:]}")


REDIRECTS = (301, 302, 303, 307, 308)
READ_TIMEOUT = 60.0


class Body:
    """A file's bytes as the upstream sends them, read with http.client into one reused buffer: about four
    times the throughput of httpx's streaming (which the first download of a mirrored file waits for)."""

    def __init__(self, response: http.client.HTTPResponse) -> None:
        self.response = response

    def chunks(self, size: int) -> Iterator[memoryview]:
        """Successive views of the body; each is valid until the next one is asked for."""
        buf = bytearray(size)
        view = memoryview(buf)
        while True:
            try:
                n = self.response.readinto(buf)
            except (OSError, http.client.HTTPException) as e:
                raise UpstreamUnavailable(f"the upstream stopped sending: {e!r}") from None
            if not n:
                return
            yield view[:n]


@contextmanager
def open_file(
    upstream: Upstream, repo_type: str, full_id: str, commit: str, path: str, timeout: float
) -> Iterator[Body]:
    """The bytes of `path` at `commit`, following redirects (a CDN, a blob server); the Authorization header
    is dropped when a redirect leaves the upstream's origin, as signed URLs expect."""
    url = f"{upstream.url}/{URL_PREFIX[repo_type]}{full_id}/resolve/{commit}/{quote(path)}"
    headers = {**_headers(upstream), "Accept-Encoding": "identity"}
    conn, response = _get(url, headers, timeout)
    try:
        yield Body(response)
    finally:
        conn.close()


def _get(url: str, headers: dict[str, str], timeout: float) -> tuple[http.client.HTTPConnection, Any]:
    origin = urlsplit(url)[:2]
    for _ in range(6):
        parts = urlsplit(url)
        kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        conn = kind(parts.hostname or "", parts.port, timeout=timeout)
        try:
            conn.connect()
            conn.sock.settimeout(READ_TIMEOUT)  # connecting is quick or never; a busy upstream may be slow to send
            conn.request("GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=headers)
            response = conn.getresponse()
        except (OSError, http.client.HTTPException) as e:
            conn.close()
            raise UpstreamUnavailable(f"upstream unreachable for {parts.path}: {e!r}") from None
        location = response.getheader("Location")
        if response.status in REDIRECTS and location:
            conn.close()
            url = urljoin(url, location)
            if urlsplit(url)[:2] != origin:
                headers = {k: v for k, v in headers.items() if k != "Authorization"}
            continue
        if response.status != 200:
            conn.close()
            raise UpstreamUnavailable(f"upstream answered {response.status} for {parts.path}")
        return conn, response
    raise UpstreamUnavailable(f"too many redirects for {url}")
