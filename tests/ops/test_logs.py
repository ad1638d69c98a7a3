"""One JSON log line per request (id, method, route, status, duration, bytes, user); X-Request-Id in and out."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import orjson

from tests.conftest import Hub
from tests.faults.conftest import auth
from tests.support import wait_for


def log_lines(hub: Hub) -> list[dict]:  # type: ignore[type-arg]
    path = hub.server.data_dir.parent / f"server-{hub.server.port}.log"
    lines = []
    for raw in path.read_bytes().splitlines():
        if raw.startswith(b"{"):
            lines.append(orjson.loads(raw))
    return lines


def access_line(hub: Hub, request_id: str) -> dict | None:  # type: ignore[type-arg]
    found = [line for line in log_lines(hub) if line.get("request_id") == request_id]
    return found[0] if found else None


def test_a_request_is_logged_once_as_json_under_the_clients_request_id(two_workers: Hub) -> None:
    hub = two_workers
    rid = f"client-{uuid.uuid4().hex}"
    r = httpx.get(f"{hub.url}/api/whoami-v2", headers={"X-Request-Id": rid, **auth(hub, "bob")}, timeout=30)
    assert r.status_code == 200
    assert r.headers["x-request-id"] == rid
    wait_for(lambda: access_line(hub, rid) is not None, what="the access log line")
    line = access_line(hub, rid)
    assert line is not None
    assert line["logger"] == "haven.access"
    assert (line["method"], line["route"], line["status"], line["user"]) == ("GET", "/api/whoami-v2", 200, "bob")
    assert line["bytes"] == len(r.content)
    assert 0 < line["duration_ms"] < 30_000
    assert sum(1 for entry in log_lines(hub) if entry.get("request_id") == rid) == 1


def test_without_a_usable_request_id_the_server_makes_one(two_workers: Hub) -> None:
    hub = two_workers
    for sent in ({}, {"X-Request-Id": "has spaces and\ttabs"}, {"X-Request-Id": "x" * 500}):
        r = httpx.get(f"{hub.url}/api/health", headers=sent, timeout=30)
        rid = r.headers["x-request-id"]
        assert rid and rid != sent.get("X-Request-Id") and len(rid) <= 128
        wait_for(lambda rid=rid: access_line(hub, rid) is not None, what="the access log line")
        line = access_line(hub, rid)
        assert line is not None and line["user"] is None and line["status"] == 200


def test_errors_carry_the_request_id_the_client_sent(two_workers: Hub) -> None:
    hub = two_workers
    rid = f"client-{uuid.uuid4().hex}"
    r = httpx.get(f"{hub.url}/api/models/alice/nope-{rid[-6:]}", headers={"X-Request-Id": rid}, timeout=30)
    assert r.status_code == 404 and r.headers["x-request-id"] == rid
    wait_for(lambda: access_line(hub, rid) is not None, what="the access log line")
    line = access_line(hub, rid)
    assert line is not None and line["status"] == 404 and line["route"] == "/api/{repo_type}/{namespace}/{name}"


def test_a_web_page_is_logged_with_the_signed_in_user(two_workers: Hub) -> None:
    """Signed in through the web form (real login, real session cookie), the log line names the user."""
    from haven.auth import service
    from haven.config import Settings
    from haven.hub import Hub as HavenHub

    hub = two_workers
    name, password = f"web{uuid.uuid4().hex[:6]}", "a long enough password"
    haven = HavenHub.open(Settings(data_dir=hub.server.data_dir), migrate=False)
    with haven.db.write() as session:
        service.create_user(session, name, email=f"{name}@example.org", password=password)
    haven.close()
    with httpx.Client(base_url=hub.url, timeout=30, follow_redirects=False) as browser:
        login_page = browser.get("/login")
        csrf = login_page.cookies.get("haven_csrf") or ""
        assert csrf, "the login form's CSRF cookie"
        r = browser.post("/login", data={"name": name, "password": password, "csrf_token": csrf})
        assert r.status_code in (302, 303), r.text[:300]
        rid = f"web-{uuid.uuid4().hex}"
        assert browser.get("/", headers={"X-Request-Id": rid}).status_code == 200
    wait_for(lambda: access_line(hub, rid) is not None, what="the access log line")
    line = access_line(hub, rid)
    assert line is not None and line["user"] == name and line["route"] == "/"


def test_an_unhandled_error_answers_500_with_the_request_id(tmp_path: Path) -> None:
    """A crash is answered outside the request-id middleware; the id still reaches the header and the body."""
    from fastapi.testclient import TestClient

    from haven.app import create_app
    from haven.config import Settings

    app = create_app(Settings(data_dir=tmp_path, job_workers=0))

    @app.get("/api/boom")
    def boom() -> None:
        raise RuntimeError("kaboom")

    app.router.routes.insert(0, app.router.routes.pop())  # before the catch-all routes
    client = TestClient(app, raise_server_exceptions=False)
    r = client.get("/api/boom", headers={"X-Request-Id": "given-1"})
    assert r.status_code == 500 and r.headers["x-request-id"] == "given-1" and "given-1" in r.json()["error"]
    r = client.get("/api/boom")
    made = r.headers["x-request-id"]
    assert r.status_code == 500 and made and made in r.json()["error"] and "kaboom" not in r.text
