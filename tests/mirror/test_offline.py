"""The upstream goes away: what the mirror holds keeps being served, marked stale."""

from __future__ import annotations

import time

import httpx

from tests.mirror.conftest import ORG, Mirror


def test_cached_files_are_served_stale_while_the_upstream_is_down(mirror: Mirror) -> None:
    repo_id = f"{ORG}/offline-model"
    files = mirror.upstream.files[repo_id]
    commit = mirror.upstream.commits[repo_id]
    url = mirror.hub.url
    assert httpx.get(f"{url}/{repo_id}/resolve/main/weights.bin", follow_redirects=True).content == files["weights.bin"]
    assert httpx.head(f"{url}/{repo_id}/resolve/main/sub/extra.bin").status_code == 200  # known, never fetched
    mirror.upstream.hub.server.stop()
    try:
        time.sleep(1.2)  # past the mirror's TTL: it asks the upstream again, which does not answer
        info = httpx.get(f"{url}/api/models/{repo_id}")
        assert info.status_code == 200 and info.json()["sha"] == commit
        assert info.headers["X-Haven-Mirror"] == "stale"
        for revision in ("main", commit):  # the branch at its last known commit; the pinned commit forever
            r = httpx.get(f"{url}/{repo_id}/resolve/{revision}/weights.bin", follow_redirects=True)
            assert r.status_code == 200 and r.content == files["weights.bin"]
            first = r.history[0] if r.history else r  # the /resolve answer, before any redirect to the bytes
            assert first.headers["X-Haven-Mirror"] == "stale"
        small = httpx.get(f"{url}/{repo_id}/resolve/main/config.json")  # in git: always there
        assert small.content == files["config.json"] and small.headers["X-Haven-Mirror"] == "stale"
        missing = httpx.get(f"{url}/{repo_id}/resolve/main/sub/extra.bin")  # bytes never fetched
        assert missing.status_code == 502 and "upstream" in missing.text.lower()
        assert httpx.get(f"{url}/api/models/{ORG}/never-mirrored").status_code == 404
    finally:
        mirror.upstream.hub.server.start(timeout=180)  # a loaded machine may take a while
    time.sleep(1.2)
    fresh = httpx.get(f"{url}/{repo_id}/resolve/main/sub/extra.bin", follow_redirects=True)
    assert fresh.content == files["sub/extra.bin"]
    assert httpx.get(f"{url}/api/models/{repo_id}").headers["X-Haven-Mirror"] == "fresh"
