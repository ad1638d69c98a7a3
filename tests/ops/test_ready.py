"""/api/health says the process answers; /api/ready says it can serve, and 503 names what is missing.

(The database side of readiness is exercised in tests/faults/test_scale_out.py, by restarting PostgreSQL.)"""

from __future__ import annotations

import httpx

from tests.conftest import Hub


def test_ready_checks_database_and_storage(two_workers: Hub) -> None:
    r = httpx.get(f"{two_workers.url}/api/ready", timeout=30)
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ready"
    assert body["checks"]["database"]["ok"] and body["checks"]["storage"]["ok"]


def test_missing_storage_is_503_until_it_is_back(two_workers: Hub) -> None:
    repos = two_workers.server.data_dir / "repos"
    hidden = repos.with_name("repos-unmounted")
    repos.rename(hidden)  # the volume went away
    try:
        for _ in range(4):  # every worker process says so
            r = httpx.get(f"{two_workers.url}/api/ready", timeout=30)
            assert r.status_code == 503
            body = r.json()
            assert body["status"] == "unavailable"
            assert not body["checks"]["storage"]["ok"] and "repos" in body["checks"]["storage"]["error"]
            assert body["checks"]["database"]["ok"]
        assert httpx.get(f"{two_workers.url}/api/health", timeout=30).status_code == 200  # alive, not ready
        assert not repos.exists(), "no process recreated it (tests/ops/test_data_dir.py)"
    finally:
        hidden.rename(repos)
    assert httpx.get(f"{two_workers.url}/api/ready", timeout=30).status_code == 200
