"""Talking to an upstream hub: repo info over its API, history over git smart HTTP, file bytes over /resolve.

Knows no Haven state; every failure to reach the upstream is an UpstreamUnavailable, so callers can fall
back to what is cached."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

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


@contextmanager
def open_file(
    upstream: Upstream, repo_type: str, full_id: str, commit: str, path: str, timeout: float
) -> Iterator[httpx.Response]:
    """A streaming response with the bytes of `path` at `commit` (redirects followed: a CDN, a blob server).
    httpx drops the Authorization header on redirects to another origin, as signed URLs expect."""
    url = f"{upstream.url}/{URL_PREFIX[repo_type]}{full_id}/resolve/{commit}/{quote(path)}"
    client = httpx.Client(timeout=httpx.Timeout(timeout, read=60.0), follow_redirects=True)
    try:
        headers = {**_headers(upstream), "Accept-Encoding": "identity"}
        with client.stream("GET", url, headers=headers) as response:
            if response.status_code != 200:
                raise UpstreamUnavailable(f"upstream {upstream.url} answered {response.status_code} for {path}")
            yield response
    except httpx.HTTPError as e:
        raise UpstreamUnavailable(f"upstream {upstream.url} failed for {path}: {e}") from None
    finally:
        client.close()
