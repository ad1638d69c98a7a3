"""The API's routes, /resolve and git's smart HTTP answer a token in steady use from the token cache, which looks
it up again in the background before its entry expires (no database query inside those requests); a revoked token
is still refused within the cache's ttl. In-process (the app under Starlette's test client, on SQLite and
PostgreSQL) so that the token lookups can be observed where they run: a SQLAlchemy event on the hub's engine."""

from __future__ import annotations

import base64
import re
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import pytest
from sqlalchemy import event
from starlette.testclient import TestClient

from haven.api.files import route_resolve_first
from haven.app import create_app
from haven.auth import service
from haven.config import Settings
from haven.hub import Hub
from tests.support import Postgres

# git's routes share one way to the caller; the LFS locks list takes it without starting a git process, whose
# time under load (a second or more) would space the requests past the refresh window.
ROUTES = ["/api/whoami-v2", "/alice/m/resolve/main/README.md", "/alice/m.git/info/lfs/locks"]


@dataclass
class Lookups:
    """The names of the threads that looked a token up in the database (listening on the hub's engine)."""

    threads: list[str] = field(default_factory=list)

    def __call__(self, conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "token_hash" in statement and statement.lstrip().upper().startswith("SELECT"):
            self.threads.append(threading.current_thread().name)


@dataclass
class App:
    client: TestClient
    hub: Hub
    token: str
    lookups: Lookups

    def get(self, route: str) -> int:
        return self.client.get(route, headers={"authorization": f"Bearer {self.token}"}).status_code


@pytest.fixture(params=["sqlite", "postgres"])
def app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[App]:
    url = None
    if request.param == "postgres":
        pg: Postgres | None = request.getfixturevalue("postgres")
        if pg is None:
            pytest.skip("PostgreSQL is not installed")
        url = pg.create_database(f"tokens_{uuid.uuid4().hex[:8]}")
    settings = Settings(data_dir=tmp_path / "data", database_url=url, job_workers=0)
    hub = Hub.open(settings)
    with hub.db.write() as session:
        service.create_user(session, "alice", email="alice@example.org")
        token = service.create_token(session, "alice")
    web = create_app(settings, hub)
    route_resolve_first(web)
    lookups = Lookups()
    event.listen(hub.db.engine, "before_cursor_execute", lookups)
    with TestClient(web) as client:
        auth = {"authorization": f"Bearer {token}"}
        assert client.post("/api/repos/create", json={"name": "m"}, headers=auth).status_code == 200
        readme = {"path": "README.md", "content": base64.b64encode(b"# m\n").decode(), "encoding": "base64"}
        body = b"\n".join(
            orjson.dumps(x) for x in ({"key": "header", "value": {"summary": "add"}}, {"key": "file", "value": readme})
        )
        r = client.post(
            "/api/models/alice/m/commit/main", content=body, headers={**auth, "content-type": "application/x-ndjson"}
        )
        assert r.status_code == 200, r.text
        yield App(client, hub, token, lookups)
    event.remove(hub.db.engine, "before_cursor_execute", lookups)
    hub.close()


@pytest.mark.parametrize("route", ROUTES)
def test_a_token_in_steady_use_is_looked_up_only_in_the_background(app: App, route: str) -> None:
    ttl = app.hub.auth.ttl
    assert app.get(route) == 200
    del app.lookups.threads[:]
    requests = 0
    deadline = time.monotonic() + 3 * ttl  # past the expiry of the entry the first request made
    while time.monotonic() < deadline:
        assert app.get(route) == 200
        requests += 1
        time.sleep(ttl / 10)
    looked_up = app.lookups.threads
    assert 2 <= len(looked_up) <= 8 < requests  # about one per half ttl, not one per request
    # The event loop's own thread pool (asyncio_N: the refresh) did them all; none ran inside a request, neither
    # in a worker thread nor on the event loop's thread (named asyncio-portal-... under the test client).
    assert all(re.fullmatch(r"asyncio_\d+", name) for name in looked_up), looked_up


@pytest.mark.parametrize("route", ROUTES)
def test_a_revoked_token_is_refused_within_the_ttl(app: App, route: str) -> None:
    ttl = app.hub.auth.ttl
    for _ in range(10):  # in steady use, so that the cache is being refreshed ahead
        assert app.get(route) == 200
        time.sleep(ttl / 10)
    with app.hub.db.write() as session:
        assert service.revoke_token(session, app.token)
    revoked = time.monotonic()
    while True:
        sent = time.monotonic()
        status = app.get(route)
        if status == 401:
            break
        assert status == 200 and sent - revoked < ttl, (status, sent - revoked)
        time.sleep(ttl / 20)
    assert app.get(route) == 401
